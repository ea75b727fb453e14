"""Answers vmgui's askpass (vmgui/askpass.py) from the window: one question at a time, on the asyncio loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QDialog, QWidget

from vmgui.core.ssh_prompt import SshPrompt, parse_prompt
from vmgui.ui.async_dialogs import dialog_result
from vmgui.ui.ssh_prompt_dialog import SshPromptDialog

log = logging.getLogger(__name__)
MAX_REQUEST = 65536


class SshPromptServer:
    """Listens on `socket_path` (in vmgui's private runtime directory) for questions ssh asks through askpass."""

    def __init__(self, socket_path: Path, token: str, parent: Callable[[], QWidget | None] = lambda: None) -> None:
        self.socket_path = socket_path
        self._token = token
        self._parent = parent
        self._one_at_a_time = asyncio.Lock()
        self._server: asyncio.AbstractServer | None = None
        self._start: asyncio.Task[asyncio.AbstractServer] | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._dialogs: set[SshPromptDialog] = set()

    def start(self) -> None:
        """Listen now (askpass may connect before the loop runs: the kernel holds it until accepted)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.socket_path))
        sock.listen(8)
        self._start = asyncio.ensure_future(asyncio.start_unix_server(self._serve, sock=sock, limit=MAX_REQUEST))

    async def close(self) -> None:
        if self._start is not None:
            self._server = await self._start
            self._server.close()
        for dialog in list(self._dialogs):
            dialog.reject()  # askpass hears "not given"; cancelling its task would log an error
        await asyncio.gather(*self._clients, return_exceptions=True)
        with contextlib.suppress(OSError):
            self.socket_path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            prompt = await self._read(reader)
            if prompt is None:
                return
            async with self._one_at_a_time:
                answer = await self._ask(prompt, reader)
            if answer is not None:
                reply: dict[str, object] = {"answer": answer}
            else:  # ssh would try an empty password again and again: askpass ends it (a host key "no" ends it)
                reply = {"message": prompt.not_answered(), "stop_ssh": not prompt.is_question}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (OSError, ValueError) as err:
            log.info("an ssh question went unanswered: %s", err)
        finally:
            self._clients.discard(task)
            writer.close()

    async def _read(self, reader: asyncio.StreamReader) -> SshPrompt | None:
        request = json.loads(await reader.readline())
        token = request.get("token") if isinstance(request, dict) else None
        if not isinstance(token, str) or not secrets.compare_digest(token.encode(), self._token.encode()):
            log.warning("refused a question on the askpass socket: wrong token")
            return None
        argv = request.get("ssh_argv")
        return parse_prompt(str(request.get("prompt", "")),
                            [str(a) for a in argv] if isinstance(argv, list) else [])

    async def _ask(self, prompt: SshPrompt, reader: asyncio.StreamReader) -> str | None:
        """The dialog's answer, None when cancelled or when the asker went away (ssh ended meanwhile)."""
        dialog = SshPromptDialog(prompt, self._parent())
        self._dialogs.add(dialog)
        try:
            result = asyncio.ensure_future(dialog_result(dialog))
            gone = asyncio.ensure_future(reader.read(1))
            await asyncio.wait({result, gone}, return_when=asyncio.FIRST_COMPLETED)
            left = gone.done()
            gone.cancel()
            if not result.done():
                dialog.reject()
            accepted = await result == QDialog.DialogCode.Accepted
            return dialog.answer() if accepted and not left else None
        finally:
            self._dialogs.discard(dialog)
            dialog.deleteLater()
