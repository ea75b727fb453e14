"""Running the creation of a guest in a worker, with a cancellable progress dialog."""

from __future__ import annotations

import asyncio
import threading

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QProgressDialog, QPushButton, QWidget

from vmgui.core.connection import Connection
from vmgui.core.guest_creator import CreatedGuest, create_guest
from vmgui.core.install_tree import TreeBoot
from vmgui.core.new_guest import NewGuestPlan

CANCELLING = "Cancelling: removing what was made so far…"


class _Progress(QProgressDialog):
    """Escape and the window's close button cancel too, and the dialog stays up while the undo runs."""

    def reject(self) -> None:
        self.canceled.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        event.ignore()
        self.canceled.emit()


async def create_with_progress(parent: QWidget, conn: Connection, plan: NewGuestPlan, xml: str, *,
                               start: bool, tree: TreeBoot | None = None) -> CreatedGuest:
    """Create the guest while a progress dialog shows each step; its Cancel undoes everything made.

    After Cancel the dialog stays up, saying it is cancelling, until the worker has removed what it
    made. Raises what create_guest raises (VmguiError, CreationCancelled).
    """
    dialog = _Progress(f"Creating {plan.name}…", "Cancel", 0, 0, parent)
    dialog.setObjectName("creation_progress")
    dialog.setWindowTitle("New guest")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    cancel_button = QPushButton("Cancel")
    cancel_button.setObjectName("cancel_creation")
    dialog.setCancelButton(cancel_button)
    dialog.canceled.disconnect(dialog.cancel)  # QProgressDialog would hide itself while the undo still runs
    cancel = threading.Event()

    def cancelled() -> None:
        if cancel.is_set():
            return
        cancel.set()
        cancel_button.setEnabled(False)
        dialog.setLabelText(CANCELLING)

    dialog.canceled.connect(cancelled)
    loop = asyncio.get_running_loop()

    def progress(step: str) -> None:  # called in the worker thread
        loop.call_soon_threadsafe(lambda: None if cancel.is_set() else dialog.setLabelText(step))

    dialog.show()
    try:
        return await conn.call(lambda c: create_guest(c, plan, xml, start=start, progress=progress, cancel=cancel,
                                                          tree=tree))
    finally:
        dialog.hide()
        dialog.deleteLater()
