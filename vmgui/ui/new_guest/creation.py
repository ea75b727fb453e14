"""Running the creation of a guest in a worker, with a cancellable progress dialog."""

from __future__ import annotations

import asyncio
import threading

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QProgressDialog, QWidget

from vmgui.core.connection import Connection
from vmgui.core.guest_creator import CreatedGuest, create_guest
from vmgui.core.install_tree import TreeBoot
from vmgui.core.new_guest import NewGuestPlan


async def create_with_progress(parent: QWidget, conn: Connection, plan: NewGuestPlan, xml: str, *,
                               start: bool, tree: TreeBoot | None = None) -> CreatedGuest:
    """Create the guest while a progress dialog shows each step; its Cancel undoes everything made.

    Raises what create_guest raises (VmguiError, CreationCancelled).
    """
    dialog = QProgressDialog(f"Creating {plan.name}…", "Cancel", 0, 0, parent)
    dialog.setObjectName("creation_progress")
    dialog.setWindowTitle("New guest")
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(0)
    dialog.setAutoClose(False)
    dialog.setAutoReset(False)
    cancel = threading.Event()
    dialog.canceled.connect(cancel.set)
    loop = asyncio.get_running_loop()

    def progress(step: str) -> None:  # called in the worker thread
        loop.call_soon_threadsafe(dialog.setLabelText, step)

    dialog.show()
    try:
        return await conn.call(lambda c: create_guest(c, plan, xml, start=start, progress=progress, cancel=cancel,
                                                          tree=tree))
    finally:
        dialog.close()
        dialog.deleteLater()
