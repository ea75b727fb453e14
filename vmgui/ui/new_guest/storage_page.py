"""Wizard page 4: the guest's disk, a new image of N GiB in a storage pool (or none)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QPushButton, QWizardPage

from vmgui.core.errors import VmguiError
from vmgui.core.new_guest import InstallMethod
from vmgui.core.storage import DEFAULT_POOL, GIB, PoolInfo, create_default_pool, default_pool_path
from vmgui.ui.problem_label import ERROR_STYLE, WARNING_STYLE

if TYPE_CHECKING:
    from vmgui.ui.new_guest.wizard import NewGuestWizard


class StoragePage(QWizardPage):
    def __init__(self, wizard: NewGuestWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Storage")
        self.setSubTitle("the guest's disk (a qcow2 image grows as the guest writes).")
        self.setObjectName("page_storage")
        form = QFormLayout(self)
        self.create_disk = QCheckBox("Create a disk image for the guest")
        self.create_disk.setObjectName("create_disk")
        self.create_disk.setChecked(True)
        self.disk_size = QDoubleSpinBox()
        self.disk_size.setObjectName("disk_size")
        self.disk_size.setSuffix(" GiB")
        self.disk_size.setDecimals(1)
        self.disk_size.setRange(0.1, 65536)
        self.pool = QComboBox()
        self.pool.setObjectName("pool")
        self.problem = QLabel()
        self.problem.setObjectName("storage_problem")
        self.problem.setWordWrap(True)
        self.make_default = QPushButton()
        self.make_default.setObjectName("make_default_pool")
        self.make_default.clicked.connect(self._make_default_pool)
        form.addRow(self.create_disk)
        form.addRow("Size:", self.disk_size)
        form.addRow("Storage pool:", self.pool)
        form.addRow(self.problem)
        form.addRow(self.make_default)
        self.create_disk.toggled.connect(self._check)
        self.disk_size.valueChanged.connect(self._check)
        self.pool.currentIndexChanged.connect(self._check)
        self._suggested_for: str | None = None
        self._default_path = ""

    def initializePage(self) -> None:
        choices = self._wizard.choices
        assert choices is not None
        if self.pool.count() == 0:
            self._fill_pools()
        network = self._wizard.method_page.method() is InstallMethod.NETWORK
        if network:  # the installer's kernel and initrd go into the new image's pool
            self.create_disk.setChecked(True)
        self.create_disk.setEnabled(not network)
        self.create_disk.setText("Create a disk image for the guest" + (
            " (a network install needs one: the installer is put in its pool)" if network else ""))
        info = self._wizard.os_page.selected()
        if self._suggested_for != info.short_id:
            self._suggested_for = info.short_id
            self.disk_size.setValue(float(info.recommended_storage_gib or 20))
        self._check()

    def _fill_pools(self) -> None:
        choices = self._wizard.choices
        assert choices is not None
        self.pool.clear()
        for pool in choices.pools:
            state = f"{pool.available / GIB:.1f} GiB free" if pool.active else "not running"
            self.pool.addItem(f"{pool.name} ({state})", pool)
        default = choices.default_pool
        if default is not None:
            self.pool.setCurrentIndex(self.pool.findData(default))
        offer = default is None and not any(p.name == DEFAULT_POOL for p in choices.pools)
        self._default_path = default_pool_path(session=self._wizard.connection.uri.endswith("/session"))
        self.make_default.setText(f"Create the storage pool '{DEFAULT_POOL}' in {self._default_path}")
        self.make_default.setVisible(offer)

    def _make_default_pool(self) -> None:
        self.make_default.setEnabled(False)
        path = self._default_path

        async def make() -> None:
            try:
                made = await self._wizard.connection.call(lambda conn: create_default_pool(conn, path))
            except VmguiError as err:
                self.problem.setText(str(err))
                self.make_default.setEnabled(True)
                return
            choices = self._wizard.choices
            assert choices is not None
            self._wizard.choices = replace(choices, pools=(made, *choices.pools))
            self.make_default.setEnabled(True)
            self._fill_pools()
            self._check()
        self._wizard.tasks.spawn(make())

    def selected_pool(self) -> PoolInfo | None:
        pool = self.pool.currentData()
        return pool if isinstance(pool, PoolInfo) else None

    def problems(self) -> tuple[list[str], list[str]]:
        """(what stops the wizard, what only warns)."""
        if not self.create_disk.isChecked():
            return [], []
        pool = self.selected_pool()
        if pool is None:
            return ["The host has no storage pool for disk images: create one (the button below makes the "
                    "usual one)."], []
        if not pool.active:
            return [f"The storage pool '{pool.name}' is not running."], []
        if not pool.holds_files:
            return [f"The storage pool '{pool.name}' ({pool.type}) cannot hold qcow2 images."], []
        size = self.disk_size.value() * GIB
        if size > pool.available:
            return [], [f"The pool has {pool.available / GIB:.1f} GiB free: the image starts small and grows, "
                        f"but it cannot reach {self.disk_size.value():g} GiB unless space is freed."]
        return [], []

    def _check(self) -> None:
        self.disk_size.setEnabled(self.create_disk.isChecked())
        self.pool.setEnabled(self.create_disk.isChecked())
        errors, warnings = self.problems()
        self.problem.setText("\n".join(errors or warnings))
        self.problem.setStyleSheet(ERROR_STYLE if errors else WARNING_STYLE)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.problems()[0]
