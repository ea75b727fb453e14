"""A dialog to edit one guest's tags as a comma-separated list, checked as you type."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from vmgui.core.metadata import parse_tag_text
from vmgui.ui.problem_label import problem_label


class TagsDialog(QDialog):
    def __init__(self, guest_name: str, tags: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Tags of {guest_name}")
        self.setMinimumWidth(480)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Tags, separated by commas (stored with the guest, seen by every vmgui):"))
        self.edit = QLineEdit(", ".join(tags))
        self.edit.setObjectName("tags")
        self.edit.setPlaceholderText("e.g. prod, web, team-a")
        layout.addWidget(self.edit)
        self.error = problem_label("error")
        self.error.setMinimumHeight(self.error.fontMetrics().lineSpacing() * 2 + 4)  # room for the message
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._tags: tuple[str, ...] = tags
        self._check()

    def _check(self) -> None:
        try:
            self._tags = parse_tag_text(self.edit.text())
            self.error.setText("")
            ok = True
        except ValueError as err:
            self.error.setText(str(err))
            ok = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def tags(self) -> tuple[str, ...]:
        return self._tags
