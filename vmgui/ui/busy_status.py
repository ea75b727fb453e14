"""A busy bar beside a status line, for dialogs whose background work cannot say how far it is."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar


def busy_status_row(text: str) -> tuple[QHBoxLayout, QProgressBar, QLabel]:
    """A row of an indeterminate progress bar (hidden until work starts) and a word-wrapped status label."""
    row = QHBoxLayout()
    progress = QProgressBar()
    progress.setObjectName("busy")
    progress.setRange(0, 0)  # busy: the work says nothing about how far it is
    progress.setMaximumWidth(120)
    progress.setVisible(False)
    status = QLabel(text)
    status.setObjectName("status")
    status.setWordWrap(True)
    row.addWidget(progress)
    row.addWidget(status, 1)
    return row, progress, status
