"""Message boxes that coroutines can await without a nested event loop (box.open(), not exec())."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QMessageBox, QWidget


async def confirm(parent: QWidget | None, title: str, text: str, detail: str, ok_label: str) -> bool:
    """Ask before something destructive; Cancel is the default button."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, parent)
    box.setObjectName("confirm")
    box.setInformativeText(detail)
    ok = box.addButton(ok_label, QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:
        if not answer.done():
            answer.set_result(box.clickedButton() is ok)
    box.finished.connect(finished)
    box.open()
    try:
        return await answer
    finally:
        box.deleteLater()


def show_error(parent: QWidget | None, title: str, text: str) -> QMessageBox:
    """A warning box that does not block the caller; it deletes itself when closed."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Close, parent)
    box.setObjectName("error")
    box.finished.connect(box.deleteLater)
    box.open()
    return box
