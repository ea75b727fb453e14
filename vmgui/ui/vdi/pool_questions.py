"""The Desktop Pools window's questions: which host to add, whose desktop it is, what to call a copy."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from vmgui.core.connection import Connection
from vmgui.core.guest import GuestInfo
from vmgui.core.new_guest import name_problem
from vmgui.core.vdi.pool_specs import PoolSpec
from vmgui.ui.async_dialogs import dialog_result


async def ask_host(parent: QWidget, spec: PoolSpec, hosts: list[Connection]) -> tuple[Connection, int] | None:
    dialog = QDialog(parent)
    dialog.setObjectName("extend_dialog")
    dialog.setWindowTitle(f"Add a host to {spec.name}")
    choice = QComboBox()
    choice.setObjectName("extend_host")
    for host in hosts:
        choice.addItem(host.name)
    count = QSpinBox()
    count.setObjectName("extend_size")
    count.setRange(1, 500)
    count.setValue(max(1, spec.size))
    count.setSuffix(" desktops")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    note = QLabel(f"The pool's golden version is copied to the host (once), which then gets desktops of "
                  f"{spec.name} of its own. Its users see them in My Desktops like the others.")
    note.setWordWrap(True)
    form.addRow(note)
    form.addRow("Host:", choice)
    form.addRow("Desktops there:", count)
    form.addRow(buttons)
    try:
        if await dialog_result(dialog) != QDialog.DialogCode.Accepted or not hosts:
            return None
        return hosts[choice.currentIndex()], count.value()
    finally:
        dialog.deleteLater()


async def ask_user(parent: QWidget, name: str, current: str) -> str | None:
    dialog = QDialog(parent)
    dialog.setObjectName("assign_dialog")
    dialog.setWindowTitle(f"Assign {name}")
    field = QLineEdit(current)
    field.setObjectName("assign_user")
    field.setPlaceholderText("user name (empty: nobody's)")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    form.addRow(QLabel(f"Who uses {name}? The user sees it in My Desktops."))
    form.addRow("User:", field)
    form.addRow(buttons)
    try:
        accepted = await dialog_result(dialog) == QDialog.DialogCode.Accepted
        return field.text() if accepted else None
    finally:
        dialog.deleteLater()


async def ask_copy(parent: QWidget, guest: GuestInfo, taken: set[str]) -> tuple[str, bool] | None:
    dialog = QDialog(parent)
    dialog.setObjectName("copy_dialog")
    dialog.setWindowTitle(f"Copy {guest.name}")
    field = QLineEdit(f"{guest.name}-copy")
    field.setObjectName("copy_name")
    full = QRadioButton("Full copy: independent of the desktop (takes a while for big disks)")
    linked = QRadioButton("Linked copy: instant, builds on the desktop's disk (which then cannot be reset "
                          "until the copy is removed)")
    full.setChecked(True)
    linked.setEnabled(not guest.state.is_active)
    if guest.state.is_active:
        linked.setToolTip("Shut the desktop down first: a linked copy builds on its disk as it is")
    problem = QLabel()
    problem.setObjectName("copy_problem")
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)

    def check() -> None:
        text = name_problem(field.text().strip(), taken) or ""
        problem.setText(text)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        if ok is not None:
            ok.setEnabled(not text)
    field.textChanged.connect(lambda _t: check())
    check()
    form = QFormLayout(dialog)
    form.addRow("Name of the copy:", field)
    form.addRow(full)
    form.addRow(linked)
    form.addRow(problem)
    form.addRow(buttons)
    try:
        if await dialog_result(dialog) != QDialog.DialogCode.Accepted:
            return None
        return field.text().strip(), linked.isChecked()
    finally:
        dialog.deleteLater()
