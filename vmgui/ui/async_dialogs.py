"""Message boxes that coroutines can await without a nested event loop (box.open(), not exec())."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget


async def confirm(parent: QWidget | None, title: str, text: str, detail: str, ok_label: str) -> bool:
    """Ask before something destructive; Cancel is the default button."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName("confirm")
    box.setInformativeText(detail)
    ok = box.addButton(ok_label, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    try:
        await dialog_result(box)
        return box.clickedButton() is ok
    finally:
        box.deleteLater()


async def dialog_result(dialog: QDialog) -> int:
    """Open `dialog` (modal to its window, without a nested event loop) and wait until it closes: its result."""
    answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def finished(result: int) -> None:
        if not answer.done():
            answer.set_result(result)
    dialog.finished.connect(finished)
    dialog.open()
    return await answer


def show_error(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    """A warning box that does not block the caller; it deletes itself when closed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Close, parent)
    box.setObjectName("error")
    box.finished.connect(box.deleteLater)
    box.open()
    return box
