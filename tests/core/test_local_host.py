"""The default local URI: system when its daemon's socket answers, else the user session."""

from __future__ import annotations

import socket
from pathlib import Path

from vmgui.core.local_host import default_local_uri


def test_session_when_no_socket(tmp_path: Path) -> None:
    assert default_local_uri((str(tmp_path / "missing-sock"),)) == "qemu:///session"


def test_system_when_a_daemon_listens(tmp_path: Path) -> None:
    path = str(tmp_path / "sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(path)
        server.listen(1)
        assert default_local_uri((str(tmp_path / "missing"), path)) == "qemu:///system"


def test_session_when_socket_is_dead(tmp_path: Path) -> None:
    path = str(tmp_path / "sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.close()  # the file stays, nobody listens
    assert default_local_uri((path,)) == "qemu:///session"
