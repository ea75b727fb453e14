"""A host that wants a password and whose key is unknown: vmgui asks in its own dialogs, never on a terminal."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pty
import select
import signal
import socket
import sys
import time

from PySide6.QtWidgets import QLabel

from tests.helpers import run, wait_until
from tests.integration.conftest import PREFIX, ROOT
from tests.integration.ssh_password_host import PASSWORD, USER, PasswordHost, password_host, password_user  # noqa: F401
from tests.ssh_prompt_helpers import answer, cancel, next_dialog, open_dialogs, ssh_prompts  # noqa: F401
from vmgui.console.ssh_tunnel import open_stream, ssh_argv
from vmgui.core.connection import Connection, ConnectionState
from vmgui.core.ssh_prompt import PromptKind
from vmgui.ui.ssh_prompts import SshPromptServer

GUEST_XML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>32</memory>
<os><type arch='x86_64'>hvm</type></os></domain>"""


def _connecting(host: PasswordHost) -> tuple[Connection, asyncio.Future[None]]:
    conn = Connection(host.uri, stats_interval=0, reconnect_delays=())
    return conn, asyncio.ensure_future(conn.connect())


def _trust_host_key(host: PasswordHost) -> None:
    question = next_dialog()
    assert question.prompt.kind is PromptKind.HOST_KEY
    assert question.prompt.fingerprint == host.fingerprint  # the key ssh met is the sshd's
    shown = question.findChild(QLabel, "fingerprint")
    assert shown is not None and shown.text() == host.fingerprint
    answer(question)


def test_a_password_host_is_asked_for_in_vmgui_and_then_connects(password_host: PasswordHost,  # noqa: F811
                                                                  ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    conn, opening = _connecting(password_host)
    started = time.monotonic()
    try:
        _trust_host_key(password_host)
        asked = next_dialog()
        assert asked.prompt.kind is PromptKind.PASSWORD
        assert asked.prompt.destination == f"{USER}@{password_host.address}:{password_host.port}"
        assert f"{USER}@{password_host.address}" in asked.windowTitle()
        assert conn.status_text == "Connecting…"
        answer(asked, PASSWORD)
        run(opening, timeout=60)
        wait_until(lambda: conn.list_loaded, timeout=30, what="the guest list")
        print(f"connected with two questions answered in {time.monotonic() - started:.2f} s")
        assert conn.state is ConnectionState.CONNECTED and not open_dialogs()

        name = f"{PREFIX}pw-{os.getpid()}"
        run(conn.call(lambda c: c.defineXML(GUEST_XML.format(name=name))))
        try:
            wait_until(lambda: any(g.name == name for g in conn.guests.values()), what="the new guest listed")
        finally:
            run(conn.call(lambda c: c.lookupByName(name).undefine()))

        # a console's tunnel (BatchMode: it never asks) goes through the connection ssh shares: no password again
        argv = ssh_argv(password_host.uri, password_host.address, password_host.port)
        assert argv is not None and "BatchMode=yes" in argv
        with socket.socket(fileno=open_stream(argv)) as stream:
            stream.settimeout(20)
            assert stream.recv(64).startswith(b"SSH-2.0-")  # the sshd's banner, through the tunnel
        assert not open_dialogs()
    finally:
        run(conn.close())


def test_cancelling_the_password_ends_the_attempt_with_a_clear_error(password_host: PasswordHost,  # noqa: F811
                                                                      ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    conn, opening = _connecting(password_host)
    try:
        _trust_host_key(password_host)
        answer(next_dialog(), "not-the-password")
        again = next_dialog()  # ssh asks again after a wrong password
        assert again.prompt.kind is PromptKind.PASSWORD
        started = time.monotonic()
        cancel(again)
        run(opening, timeout=30)
        wait_until(lambda: conn.state is ConnectionState.DISCONNECTED, timeout=30, what="the failure")
        print(f"cancelled: the connection failed {time.monotonic() - started:.2f} s later: {conn.error}")
        assert conn.error == f"The password for {USER}@{password_host.address}:{password_host.port} was not given."
        assert conn.retry_at is None  # no new attempt (each would ask again)
        time.sleep(1)
        assert not open_dialogs()  # ssh did not go on trying empty passwords
    finally:
        run(conn.close())


def test_refusing_an_unknown_host_key_ends_the_attempt(password_host: PasswordHost,  # noqa: F811
                                                        ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    conn, opening = _connecting(password_host)
    try:
        question = next_dialog()
        assert question.prompt.kind is PromptKind.HOST_KEY
        cancel(question)
        run(opening, timeout=30)
        assert conn.state is ConnectionState.DISCONNECTED
        assert conn.error == f"The host key of {USER}@{password_host.address}:{password_host.port} was not accepted."
        assert conn.retry_at is None and not open_dialogs()
        second, again = _connecting(password_host)
        try:
            asked = next_dialog()  # the key was not remembered: the next attempt asks again
            assert asked.prompt.kind is PromptKind.HOST_KEY
            cancel(asked)
            run(again, timeout=30)
        finally:
            run(second.close())
    finally:
        run(conn.close())


_CHILD = """
import json, socket, sys, threading
import libvirt
from vmgui.core import ssh_runtime
uri, password, wrapped = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
runtime = ssh_runtime.install() if wrapped else None
if runtime is not None:  # vmgui's prompt server, without Qt: answers yes, then the password
    answers = iter(["yes", password])
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(runtime.socket_path))
    server.listen()
    def serve():
        while True:
            client, _ = server.accept()
            with client, client.makefile("rb") as f:
                print("asked:", json.loads(f.readline())["prompt"].splitlines()[-1], flush=True)
                client.sendall(json.dumps({"answer": next(answers)}).encode() + b"\\n")
    threading.Thread(target=serve, daemon=True).start()
conn = libvirt.open(uri)
print("CONNECTED, guests listed:", len(conn.listAllDomains(0)), flush=True)
conn.close()
if runtime is not None:
    runtime.remove()
"""


def _on_a_terminal(uri: str, wrapped: bool, until: bytes | None = None, timeout: float = 60) -> bytes:
    """Run a libvirt.open(uri) with a terminal as its controlling tty (vmgui started from a shell): what appeared
    on that terminal until it ended, or up to `until` (the child is then ended)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a new session whose controlling terminal is the pty
        os.environ["PYTHONPATH"] = str(ROOT)
        os.execv(sys.executable, [sys.executable, "-c", _CHILD, uri, PASSWORD, "1" if wrapped else "0"])
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while (until is None or until not in seen) and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the child ended
                    break
                if not chunk:
                    break
                seen += chunk
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        os.waitpid(pid, 0)
        os.close(fd)
    return seen


def test_started_from_a_terminal_ssh_still_asks_vmgui_not_the_terminal(password_host: PasswordHost) -> None:  # noqa: F811
    # without vmgui's ssh, libvirt's ssh asks on the terminal, and the connection waits there for ever
    plain = _on_a_terminal(password_host.uri, wrapped=False, until=b"continue connecting", timeout=30)
    assert b"Are you sure you want to continue connecting" in plain
    started = time.monotonic()
    wrapped = _on_a_terminal(password_host.uri, wrapped=True)  # to its end: it removes vmgui's ssh directory
    print(f"connected from a terminal in {time.monotonic() - started:.2f} s: {wrapped!r}")
    assert b"CONNECTED, guests listed: " in wrapped
    assert b"asked: Are you sure you want to continue connecting (yes/no/[fingerprint])?" in wrapped
    assert f"asked: {USER}@{password_host.address}'s password:".encode() in wrapped
    lines = wrapped.decode().splitlines()
    assert all(line.startswith(("asked: ", "CONNECTED")) for line in lines), "nothing else on the terminal"
