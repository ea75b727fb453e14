"""vmgui's ssh set-up for a test (wrapper on PATH, prompt server, as vmgui.ui.app does) and answering its dialog."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit, QPushButton

from tests.helpers import run, wait_until
from vmgui.core import ssh_runtime
from vmgui.core.ssh_prompt import PromptKind
from vmgui.ui.ssh_prompt_dialog import SshPromptDialog
from vmgui.ui.ssh_prompts import SshPromptServer


@pytest.fixture
def ssh_prompts(aloop: asyncio.AbstractEventLoop) -> Iterator[SshPromptServer]:
    runtime = ssh_runtime.install()
    assert runtime is not None, "ssh is not installed"
    server = SshPromptServer(runtime.socket_path, runtime.token)
    server.start()
    try:
        yield server
    finally:
        run(server.close())
        runtime.remove()


def open_dialogs() -> list[SshPromptDialog]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, SshPromptDialog) and w.isVisible()]


def next_dialog(timeout: float = 30.0) -> SshPromptDialog:
    """The ssh question now on screen (waits for it); fails if more than one is open."""
    wait_until(lambda: bool(open_dialogs()), timeout=timeout, what="ssh's question in vmgui's dialog")
    dialogs = open_dialogs()
    assert len(dialogs) == 1, "ssh questions are asked one at a time"
    return dialogs[0]


def answer(dialog: SshPromptDialog, text: str | None = None) -> None:
    """Type `text` into a password dialog (or accept a host-key question) and press its button, as a person would."""
    if dialog.prompt.kind is PromptKind.HOST_KEY:
        assert text is None
        assert dialog.findChild(QLineEdit) is None, "a yes/no question has no text field"
    else:
        field = dialog.findChild(QLineEdit, "secret")
        assert field is not None and field.echoMode() is QLineEdit.EchoMode.Password
        field.setText(text or "")
    button = dialog.findChild(QPushButton, "answer")
    assert button is not None
    button.click()


def cancel(dialog: SshPromptDialog) -> None:
    box = dialog.findChild(QDialogButtonBox)
    assert box is not None
    box.button(QDialogButtonBox.StandardButton.Cancel).click()
