"""A dialog to edit a new guest's domain XML before it is defined ("customize before install")."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from vmgui.core.domain_xml import DomainXml, XmlError
from vmgui.ui.problem_label import problem_label


class XmlEditorDialog(QDialog):
    """Shows the XML; OK only once it parses as domain XML that still names the guest `name`."""

    def __init__(self, xml: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("xml_editor")
        self.setWindowTitle(f"Customize {name} before install")
        self.resize(760, 640)
        self._name = name
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("The guest's libvirt XML. Edit it, then Create: libvirt checks it then."))
        self.edit = QPlainTextEdit(xml)
        self.edit.setObjectName("xml")
        self.edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.edit.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.edit, 1)
        self.error = problem_label("xml_error")
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.edit.textChanged.connect(self._check)
        self._check()

    def problem(self) -> str | None:
        try:
            dom = DomainXml(self.edit.toPlainText())
        except XmlError as err:
            return str(err)
        if dom.name != self._name:
            return f"Keep the name '{self._name}' (rename the guest on the wizard's last page)."
        return None

    def xml(self) -> str:
        return self.edit.toPlainText()

    def _check(self) -> None:
        problem = self.problem()
        self.error.setText(problem or "")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(problem is None)
