"""The dialog for one ssh question: a password or passphrase (not echoed), or whether to trust an unknown host key."""

from __future__ import annotations

import html

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from vmgui.core.ssh_prompt import PromptKind, SshPrompt

_TITLES = {PromptKind.PASSWORD: "Password", PromptKind.PASSPHRASE: "Key passphrase",
           PromptKind.HOST_KEY: "Unknown host key", PromptKind.OTHER: "SSH question"}


class SshPromptDialog(QDialog):
    def __init__(self, prompt: SshPrompt, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = prompt
        self.setObjectName("sshPrompt")
        where = prompt.destination or "the host"
        self.setWindowTitle(f"{_TITLES[prompt.kind]} for {where}")
        layout = QVBoxLayout(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.field: QLineEdit | None = None
        if prompt.kind is PromptKind.HOST_KEY:
            intro = QLabel(f"<b>{html.escape(where)}</b> is not among the known hosts, so vmgui cannot tell "
                           "whether it is the machine you mean. Compare its key's fingerprint with the one its "
                           "administrator gave you.")
            intro.setWordWrap(True)
            layout.addWidget(intro)
            fingerprint = QLabel(prompt.fingerprint or "(ssh gave no fingerprint)")
            fingerprint.setObjectName("fingerprint")
            fingerprint.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
            layout.addWidget(fingerprint)
            said = QLabel(prompt.text.strip())
            said.setObjectName("sshText")
            said.setWordWrap(True)
            layout.addWidget(said)
            ok = buttons.addButton("Connect and remember the key", QDialogButtonBox.ButtonRole.AcceptRole)
            buttons.button(QDialogButtonBox.StandardButton.Cancel).setDefault(True)
        else:
            said = QLabel(prompt.text.strip() or "ssh asks for a secret:")
            said.setObjectName("sshText")
            said.setWordWrap(True)
            layout.addWidget(said)
            self.field = QLineEdit()
            self.field.setObjectName("secret")
            self.field.setEchoMode(QLineEdit.EchoMode.Password)
            layout.addWidget(self.field)
            ok = buttons.addButton(QDialogButtonBox.StandardButton.Ok)
            ok.setDefault(True)
        ok.setObjectName("answer")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)  # a prompt like "alice@vm1.example.org's password:" on one line

    def answer(self) -> str:
        """What to give ssh when accepted: "yes" to a host key question, else the typed text."""
        return self.field.text() if self.field is not None else "yes"

