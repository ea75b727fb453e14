"""Wizard page 1: how the guest gets its OS (install media, existing disk, network boot, kernel)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from vmgui.core.install_tree import url_problem
from vmgui.core.new_guest import InstallMethod
from vmgui.ui.problem_label import ERROR_STYLE, problem_label

if TYPE_CHECKING:
    from vmgui.ui.new_guest.wizard import NewGuestWizard


class PathField(QWidget):
    """A path on the host: typed, picked from the host's pool volumes, or browsed (local hosts)."""

    def __init__(self, placeholder: str, file_filter: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._filter = file_filter
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        self.volumes = QComboBox()
        self.volumes.setVisible(False)
        self.volumes.activated.connect(lambda _i: self.edit.setText(self.volumes.currentData() or self.edit.text()))
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self._browse)
        layout.addWidget(self.edit, 1)
        layout.addWidget(self.volumes)
        layout.addWidget(self.browse)

    def set_volumes(self, paths: list[tuple[str, str]]) -> None:
        """Offer these (label, path) pairs, e.g. the ISO images in the host's pools."""
        self.volumes.clear()
        self.volumes.addItem("From a storage pool…", None)
        for label, path in paths:
            self.volumes.addItem(label, path)
        self.volumes.setVisible(bool(paths))

    def text(self) -> str:
        return self.edit.text().strip()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file on this machine", self.text(), self._filter)
        if path:
            self.edit.setText(path)


class MethodPage(QWizardPage):
    def __init__(self, wizard: NewGuestWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("How will the guest get its operating system?")
        self.setSubTitle("the install method.")
        self.setObjectName("page_method")
        layout = QVBoxLayout(self)
        self.status = QLabel("Reading what the host offers…")
        self.status.setObjectName("host_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.buttons = QButtonGroup(self)
        self.stack = QStackedWidget()
        self.media = PathField("/path/to/installer.iso or /dev/sr0", "ISO images (*.iso *.ISO);;All files (*)")
        self.import_path = PathField("/path/to/disk.qcow2", "Disk images (*.qcow2 *.img *.raw *.vmdk);;All files (*)")
        self.kernel = PathField("/path/to/vmlinuz", "All files (*)")
        self.initrd = PathField("/path/to/initrd.img (optional)", "All files (*)")
        self.cmdline = QLineEdit()
        self.cmdline.setPlaceholderText("kernel arguments, e.g. console=ttyS0 (optional)")
        self.url = QLineEdit()
        self.url.setObjectName("install_url")
        self.url.setPlaceholderText("https://deb.debian.org/debian/dists/bookworm/main/installer-amd64")
        self.url_args = QLineEdit()
        self.url_args.setObjectName("install_args")
        self.url_args.setPlaceholderText("extra kernel arguments for the installer (optional)")
        self.url_problem = problem_label("url_problem")
        self.url.textChanged.connect(self._url_changed)
        for field in (self.media, self.import_path, self.kernel, self.initrd):
            field.edit.textChanged.connect(self.completeChanged)
        forms: dict[InstallMethod, list[tuple[str, QWidget]]] = {
            InstallMethod.MEDIA: [("ISO image or CD-ROM:", self.media)],
            InstallMethod.NETWORK: [("Install tree URL:", self.url), ("Arguments:", self.url_args),
                                    ("", self.url_problem)],
            InstallMethod.IMPORT: [("Disk image:", self.import_path)],
            InstallMethod.MANUAL: [],
            InstallMethod.KERNEL: [("Kernel:", self.kernel), ("Initrd:", self.initrd), ("Arguments:", self.cmdline)],
        }
        self._methods = [m for m in InstallMethod if m in forms]  # only the methods this page has fields for
        for i, method in enumerate(self._methods):
            button = QRadioButton(method.label)
            button.setObjectName(f"method_{method.value}")
            self.buttons.addButton(button, i)
            layout.addWidget(button)
            page = QWidget()
            form = QFormLayout(page)
            for label, widget in forms[method]:
                form.addRow(label, widget)
            if method is InstallMethod.MANUAL:
                form.addRow(QLabel("The guest gets an empty disk and boots from the network (PXE) first."))
            if method is InstallMethod.NETWORK:
                note = QLabel("vmgui fetches the installer's kernel and initrd and boots them once; the guest "
                              "then boots from its disk.")
                note.setWordWrap(True)
                form.addRow(note)
            self.stack.addWidget(page)
        self.buttons.button(0).setChecked(True)
        self.buttons.idToggled.connect(self._toggled)
        layout.addWidget(self.stack)
        layout.addStretch(1)

    def method(self) -> InstallMethod:
        return self._methods[max(self.buttons.checkedId(), 0)]

    def host_ready(self) -> None:
        choices = self._wizard.choices
        assert choices is not None
        self.media.set_volumes([(f"{v.name} ({v.pool})", v.path) for v in choices.isos])
        self.import_path.set_volumes([(f"{v.name} ({v.pool}, {v.capacity / 1024 ** 3:.1f} GiB)", v.path)
                                      for v in choices.images])
        for field in (self.media, self.import_path, self.kernel, self.initrd):
            field.browse.setEnabled(choices.local)
            field.browse.setToolTip("" if choices.local else "The host is another machine: type its path, "
                                    "or pick an image from its storage pools")
        self.status.setText(f"Creating a guest on {self._wizard.connection_name}.")
        self.completeChanged.emit()

    def host_failed(self, message: str) -> None:
        self.status.setText(message)
        self.status.setStyleSheet(ERROR_STYLE)

    def _url_changed(self, text: str) -> None:
        self.url_problem.setText(url_problem(text) or "" if text.strip() else "")
        self.completeChanged.emit()

    def _toggled(self, index: int, on: bool) -> None:
        if on:
            self.stack.setCurrentIndex(index)
            self.completeChanged.emit()
            self._wizard.number_step(self._wizard.PAGE_METHOD)  # an import has one step fewer

    def isComplete(self) -> bool:
        if self._wizard.choices is None:
            return False
        method = self.method()
        if method is InstallMethod.MEDIA:
            return bool(self.media.text())
        if method is InstallMethod.NETWORK:
            return bool(self.url.text().strip()) and url_problem(self.url.text()) is None
        if method is InstallMethod.IMPORT:
            return bool(self.import_path.text())
        if method is InstallMethod.KERNEL:
            return bool(self.kernel.text())
        return True
