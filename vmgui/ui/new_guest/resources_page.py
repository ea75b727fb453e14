"""Wizard page 3: memory and virtual CPUs, within what the host has, suggested for the OS."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFormLayout, QLabel, QSpinBox, QWizardPage

from vmgui.ui.problem_label import problem_label

if TYPE_CHECKING:
    from vmgui.ui.new_guest.wizard import NewGuestWizard


class ResourcesPage(QWizardPage):
    def __init__(self, wizard: NewGuestWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Memory and CPUs")
        self.setSubTitle("what the guest gets of the host.")
        self.setObjectName("page_resources")
        form = QFormLayout(self)
        self.memory = QSpinBox()
        self.memory.setObjectName("memory")
        self.memory.setSuffix(" MiB")
        self.memory.setRange(16, 16 * 1024 * 1024)
        self.memory.setSingleStep(256)
        self.vcpus = QSpinBox()
        self.vcpus.setObjectName("vcpus")
        self.vcpus.setRange(1, 4096)
        self.hint = QLabel()
        self.hint.setObjectName("resources_hint")
        self.hint.setWordWrap(True)
        self.problem = problem_label("resources_problem")
        form.addRow("Memory:", self.memory)
        form.addRow("Virtual CPUs:", self.vcpus)
        form.addRow(self.hint)
        form.addRow(self.problem)
        self.memory.valueChanged.connect(self._check)
        self.vcpus.valueChanged.connect(self._check)
        self._suggested_for: str | None = None

    def initializePage(self) -> None:
        info = self._wizard.os_page.selected()
        choices = self._wizard.choices
        assert choices is not None
        caps = choices.caps
        if self._suggested_for != info.short_id:  # new OS: its suggestion; else keep what the user set
            self._suggested_for = info.short_id
            self.memory.setValue(min(info.recommended_memory_mib or 1024, caps.host_memory_mib))
            self.vcpus.setValue(min(info.recommended_vcpus or 1, 2, caps.host_cpus or 1))
        lines = [f"The host has {caps.host_memory_mib} MiB of memory and {caps.host_cpus} CPUs."]
        if info.recommended_memory_mib:
            lines.append(f"{info.name}: {info.recommended_memory_mib} MiB recommended"
                         + (f", {info.minimum_memory_mib} MiB at least." if info.minimum_memory_mib else "."))
        self.hint.setText(" ".join(lines))
        self._check()

    def problems(self) -> list[str]:
        choices = self._wizard.choices
        if choices is None:
            return []
        caps = choices.caps
        found = []
        if self.memory.value() > caps.host_memory_mib:
            found.append(f"{self.memory.value()} MiB is more memory than the host has ({caps.host_memory_mib} MiB).")
        limit = min(x for x in (caps.host_cpus, caps.max_vcpus) if x) if (caps.host_cpus or caps.max_vcpus) else None
        if limit and self.vcpus.value() > limit:
            found.append(f"{self.vcpus.value()} virtual CPUs is more than this host offers ({limit}).")
        return found

    def _check(self) -> None:
        self.problem.setText("\n".join(self.problems()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.problems()
