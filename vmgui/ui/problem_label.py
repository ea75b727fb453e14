"""Labels that say what is wrong while the user types: red for what stops them, amber for a warning."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

ERROR_STYLE = "color: #c62828"
WARNING_STYLE = "color: #a66a00"


def problem_label(object_name: str) -> QLabel:
    """An empty, word-wrapped label in the error colour."""
    label = QLabel()
    label.setObjectName(object_name)
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    return label
