"""The Delete dialog: remove a guest and, ticked one by one, the disk images only it uses."""

from __future__ import annotations

import libvirt
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from vmgui.core.connection import Connection
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import DiskToDelete, delete_guest, disks_of
from vmgui.ui.async_dialogs import show_error
from vmgui.ui.tasks import TaskGroup


class DeleteDialog(QDialog):
    """Deletes the guest `uuid` of `connection`; emits `deleted` with the image paths removed."""

    deleted = Signal(list)

    def __init__(self, connection: Connection, uuid: str, name: str, running: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("delete_dialog")
        self.setWindowTitle(f"Delete {name}")
        self.setMinimumWidth(560)
        self.connection = connection
        self.uuid = uuid
        self.tasks = TaskGroup()
        self.boxes: dict[str, QCheckBox] = {}
        self.reasons: dict[str, QLabel] = {}  # why a protected disk stays
        layout = QVBoxLayout(self)
        self.name = name
        self.warning = QLabel()
        self.warning.setObjectName("delete_warning")
        self._say_running(running)
        layout.addWidget(self.warning)
        layout.addWidget(QLabel("Delete these disk images with it (this cannot be undone):"))
        self.list = QVBoxLayout()
        layout.addLayout(self.list)
        self.status = QLabel("Reading the guest's disks…")
        self.status.setObjectName("delete_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Delete")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        self.buttons.accepted.connect(lambda: self.tasks.spawn(self._delete()))
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.tasks.spawn(self._load())

    async def _load(self) -> None:
        uuid = self.uuid
        try:
            def read(conn: libvirt.virConnect) -> tuple[list[DiskToDelete], bool]:
                dom = conn.lookupByUUIDString(uuid)
                return disks_of(conn, dom), bool(dom.isActive())
            disks, running = await self.connection.call(read)
        except Exception as err:  # the guest may be gone already
            self.status.setText(f"Could not read the guest: {err}")
            return
        self._say_running(running)  # the list's state may be a moment behind
        for disk in disks:
            box = QCheckBox(f"{disk.target}: {disk.path}")
            box.setObjectName(f"delete_{disk.target}")
            box.setChecked(disk.delete_by_default)
            box.setEnabled(not disk.protected)
            self.boxes[disk.path] = box
            self.list.addWidget(box)
            if disk.protected:  # on a line of its own, wrapped: a long reason must not be cut off
                why = QLabel(f"Kept: {disk.protected}.")
                why.setObjectName(f"kept_{disk.target}")
                why.setWordWrap(True)
                why.setContentsMargins(24, 0, 0, 4)
                why.setEnabled(False)
                self.reasons[disk.path] = why
                self.list.addWidget(why)
        self.status.setText("" if disks else "The guest has no disk images.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)

    def _say_running(self, running: bool) -> None:
        self.warning.setText(f"Delete the guest {self.name}?"
                             + (" It is running and will be forced off first." if running else ""))

    def chosen(self) -> list[str]:
        return [path for path, box in self.boxes.items() if box.isChecked() and box.isEnabled()]

    async def _delete(self) -> None:
        self.buttons.setEnabled(False)
        uuid, paths = self.uuid, self.chosen()
        self.status.setText("Deleting…")
        try:
            removed = await self.connection.call(lambda conn: delete_guest(conn, uuid, paths))
        except VmguiError as err:
            self.buttons.setEnabled(True)
            self.status.setText("")
            show_error(self, "Delete", str(err))
            return
        self.deleted.emit(removed)
        self.accept()

    def done(self, result: int) -> None:
        self.tasks.cancel_all()
        super().done(result)

