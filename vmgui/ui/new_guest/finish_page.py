"""Wizard page 5: name, network, firmware and display, "customize before install", and a summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QLabel, QLineEdit, QWizardPage

from vmgui.core.host_networks import NetworkOption
from vmgui.core.new_guest import InstallMethod, free_name, name_problem
from vmgui.ui.problem_label import problem_label

if TYPE_CHECKING:
    from vmgui.ui.new_guest.wizard import NewGuestWizard


class FinishPage(QWizardPage):
    def __init__(self, wizard: NewGuestWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Ready to create the guest")
        self.setSubTitle("name, network, firmware and display.")
        self.setObjectName("page_finish")
        form = QFormLayout(self)
        self.name = QLineEdit()
        self.name.setObjectName("name")
        self.name_problem = problem_label("name_problem")
        self.network = QComboBox()
        self.network.setObjectName("network")
        self.firmware = QComboBox()
        self.firmware.setObjectName("firmware")
        self.graphics = QComboBox()
        self.graphics.setObjectName("graphics")
        self.customize = QCheckBox("Customize configuration before install (edit the XML)")
        self.customize.setObjectName("customize")
        self.start = QCheckBox("Start the guest once it is created")
        self.start.setObjectName("start")
        self.start.setChecked(True)
        self.summary = QLabel()
        self.summary.setObjectName("summary")
        self.summary.setWordWrap(True)
        form.addRow("Name:", self.name)
        form.addRow(self.name_problem)
        form.addRow("Network:", self.network)
        form.addRow("Firmware:", self.firmware)
        self.firmware_problem = problem_label("firmware_problem")
        form.addRow(self.firmware_problem)
        form.addRow("Display:", self.graphics)
        form.addRow(self.customize)
        form.addRow(self.start)
        form.addRow(self.summary)
        self.name.textChanged.connect(self._check)
        self.firmware.currentIndexChanged.connect(self._check)
        self._filled = False

    def initializePage(self) -> None:
        choices = self._wizard.choices
        assert choices is not None
        info = self._wizard.os_page.selected()
        if not self._filled:
            self._filled = True
            for option in choices.networks:
                self.network.addItem(option.label, option)
            self.network.addItem("No network", None)
            for kind in ("spice", "vnc"):
                if kind in choices.caps.graphics_types:
                    self.graphics.addItem(kind.upper(), kind)
            self.graphics.addItem("None (headless)", "none")
        if not self.name.text():
            self.name.setText(self._free_name(info.short_id if info.short_id != "generic" else "guest"))
        self.firmware.clear()
        if not info.efi_only:
            self.firmware.addItem("BIOS", "bios")
        if choices.caps.supports_uefi():
            self.firmware.addItem("UEFI", "efi")
        elif info.efi_only:
            self.firmware.addItem("UEFI (this host has none)", "efi")
        self.firmware.setEnabled(self.firmware.count() > 1)
        network = self._wizard.method_page.method() is InstallMethod.NETWORK
        if network:
            self.start.setChecked(True)  # the installer only runs by starting the guest
        self.start.setEnabled(not network)
        storage = self._wizard.storage_page
        if self._wizard.method_page.method() is InstallMethod.IMPORT:
            disk = "imported disk image"
        elif storage.create_disk.isChecked():
            disk = f"new {storage.disk_size.value():g} GiB disk image"
        else:
            disk = "no disk"
        memory = self._wizard.resources_page.memory.value()
        vcpus = self._wizard.resources_page.vcpus.value()
        self.summary.setText(f"{info.name} · {memory} MiB · {vcpus} vCPU{'s' if vcpus > 1 else ''} · {disk} · "
                             f"{choices.caps.virt_type.upper()} on {self._wizard.connection_name}")
        self._check()

    def network_option(self) -> NetworkOption | None:
        option = self.network.currentData()
        return option if isinstance(option, NetworkOption) else None

    def _free_name(self, base: str) -> str:
        return free_name(base, self._wizard.choices.taken_names if self._wizard.choices else frozenset())

    def problem(self) -> str | None:
        taken = set(self._wizard.choices.taken_names) if self._wizard.choices else set()
        return name_problem(self.name.text().strip(), taken)

    def firmware_problem_text(self) -> str | None:
        """Why the chosen firmware cannot start this guest here (an OS that needs UEFI on a host with none)."""
        choices = self._wizard.choices
        if self.firmware.currentData() == "efi" and choices is not None and not choices.caps.supports_uefi():
            return (f"{self._wizard.os_page.selected().name} needs UEFI firmware, and this host has none: "
                    "install OVMF (Debian package ovmf) on it.")
        return None

    def name_changed(self) -> None:
        """The taken names changed (read again from the host): check the name again."""
        self._check()

    def _check(self) -> None:
        self.name_problem.setText(self.problem() or "")
        self.firmware_problem.setText(self.firmware_problem_text() or "")
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return (self.problem() is None and self.firmware.currentData() is not None
                and self.firmware_problem_text() is None)
