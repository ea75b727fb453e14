"""The Add Connection dialog: pick a local or SSH QEMU/KVM host, or type any libvirt URI."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vmgui.core.uris import SESSION_URI, SYSTEM_URI, ssh_uri, validate_uri

# Hypervisor choices: what the combo box shows and the key it stores.
_SYSTEM = "system"
_SESSION = "session"
_CUSTOM = "custom"
_CHOICES = (
    ("QEMU/KVM (system)", _SYSTEM),
    ("QEMU/KVM user session", _SESSION),
    ("Custom URI", _CUSTOM),
)
_ERROR_ON_LIGHT = "#c01c28"
_ERROR_ON_DARK = "#ff7b72"


def _split_port(text: str) -> tuple[str, int | None]:
    """'host:2222' or '[::1]:2222' -> (host, 2222); a bare host or IPv6 address -> (text, None).

    Raises ValueError when the part after ':' is not a port number.
    """
    if text.startswith("[") and "]:" in text:
        host, _, port = text.rpartition(":")
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        return text, None
    if not port.isascii() or not port.isdigit():
        raise ValueError(f"The port after ':' must be a number, not '{port}'.")
    return host, int(port)


class AddConnectionDialog(QDialog):
    """Asks which hypervisor to connect to; OK stays disabled until the answer is a usable URI."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add Connection")
        self.setMinimumWidth(460)

        self._hypervisor = QComboBox()
        self._hypervisor.setObjectName("hypervisor")
        for label, key in _CHOICES:
            self._hypervisor.addItem(label, key)

        self._remote = QCheckBox("Connect to remote host over SSH")
        self._remote.setObjectName("remote")

        self._username = QLineEdit()
        self._username.setObjectName("username")
        self._username.setPlaceholderText("Default from your SSH settings")

        self._hostname = QLineEdit()
        self._hostname.setObjectName("hostname")
        self._hostname.setPlaceholderText("host.example.com or host:port")

        self._custom_uri = QLineEdit()
        self._custom_uri.setObjectName("custom_uri")
        self._custom_uri.setPlaceholderText("e.g. qemu+tls://host.example.com/system")

        self._generated = QLabel()
        self._generated.setObjectName("generated_uri")
        self._generated.setTextFormat(Qt.TextFormat.PlainText)
        self._generated.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._generated.setWordWrap(True)

        self._autoconnect = QCheckBox("Autoconnect")
        self._autoconnect.setObjectName("autoconnect")
        self._autoconnect.setToolTip("Connect to this host every time vmgui starts")
        self._autoconnect.setChecked(True)

        self._error = QLabel()
        self._error.setObjectName("error")
        self._error.setTextFormat(Qt.TextFormat.PlainText)
        self._error.setWordWrap(True)
        self._paint_error_red()

        self._buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self._buttons.accepted.connect(self.accept)
        self._buttons.rejected.connect(self.reject)

        self._form = QFormLayout()
        self._form.addRow("&Hypervisor:", self._hypervisor)
        self._form.addRow(self._remote)
        self._form.addRow("&Username:", self._username)
        self._form.addRow("Host&name:", self._hostname)
        self._form.addRow("&Custom URI:", self._custom_uri)
        self._form.addRow("Generated URI:", self._generated)
        self._form.addRow(self._autoconnect)

        layout = QVBoxLayout(self)
        layout.addLayout(self._form)
        layout.addWidget(self._error)
        layout.addStretch(1)
        layout.addWidget(self._buttons)

        self._uri = ""
        self._hypervisor.currentIndexChanged.connect(self._refresh)
        self._remote.toggled.connect(self._on_remote_toggled)
        self._username.textChanged.connect(self._refresh)
        self._hostname.textChanged.connect(self._refresh)
        self._custom_uri.textChanged.connect(self._refresh)
        self._refresh()

    # --- answers -------------------------------------------------------------------------

    def uri(self) -> str:
        """The URI the form describes, or '' while the form is not valid."""
        return self._uri

    def autoconnect(self) -> bool:
        """Whether to connect to this URI whenever vmgui starts."""
        return self._autoconnect.isChecked()

    def error(self) -> str:
        """Why the form is not valid yet, or '' when it is."""
        return self._error.text()

    @staticmethod
    def ask(parent: QWidget | None = None) -> tuple[str, bool] | None:
        """Show the dialog modally: (uri, autoconnect) after OK, None after Cancel."""
        dialog = AddConnectionDialog(parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted.value or not dialog.uri():
                return None
            return dialog.uri(), dialog.autoconnect()
        finally:
            dialog.deleteLater()

    def accept(self) -> None:
        if self._uri:
            super().accept()

    # --- form logic ----------------------------------------------------------------------

    def _choice(self) -> str:
        key = self._hypervisor.currentData()
        return key if isinstance(key, str) else _SYSTEM

    def _on_remote_toggled(self, checked: bool) -> None:
        self._refresh()
        if checked:
            self._hostname.setFocus()

    def _refresh(self) -> None:
        """Enable the fields that apply, then rebuild the URI and say what is wrong, if anything."""
        custom = self._choice() == _CUSTOM
        remote = self._remote.isChecked() and not custom
        self._remote.setEnabled(not custom)
        self._username.setEnabled(remote)
        self._hostname.setEnabled(remote)
        self._custom_uri.setEnabled(custom)
        self._form.setRowVisible(self._custom_uri, custom)

        uri, problem = self._build(custom, remote)
        self._uri = uri if problem is None else ""
        self._generated.setText(uri)
        self._error.setText(problem or "")
        self._error.setVisible(problem is not None)
        ok = self._buttons.button(QDialogButtonBox.StandardButton.Ok)
        if isinstance(ok, QPushButton):
            ok.setEnabled(problem is None)

    def _build(self, custom: bool, remote: bool) -> tuple[str, str | None]:
        """(the URI as far as it goes, why it is not usable or None)."""
        if custom:
            uri = self._custom_uri.text().strip()
            return uri, validate_uri(uri)
        session = self._choice() == _SESSION
        if not remote:
            uri = SESSION_URI if session else SYSTEM_URI
            return uri, validate_uri(uri)
        try:
            host, port = _split_port(self._hostname.text().strip())
            uri = ssh_uri(host, self._username.text(), session=session, port=port)
        except ValueError as err:
            return "", str(err)
        return uri, validate_uri(uri)

    def _paint_error_red(self) -> None:
        """Red error text, lighter when the window background is dark."""
        palette = self._error.palette()
        dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
        red = QColor(_ERROR_ON_DARK if dark else _ERROR_ON_LIGHT)
        palette.setColor(QPalette.ColorRole.WindowText, red)
        self._error.setPalette(palette)
