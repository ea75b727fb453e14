"""Consoles through ssh: the command libvirt's qemu+ssh would run, and a stream through a child process."""

from __future__ import annotations

import os
import socket

import pytest

from vmgui.console.graphics import Graphics, loopback_target
from vmgui.console.ssh_tunnel import open_stream, ssh_argv

OPTIONS = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ExitOnForwardFailure=yes", "-e", "none"]


@pytest.mark.parametrize(("uri", "host", "extra", "target"), [
    ("qemu+ssh://root@vdi.example/system", "127.0.0.1", [], "root@vdi.example"),
    ("qemu+ssh://vdi.example:2222/system?keyfile=/k/id&no_verify=1", "127.0.0.1",
     ["-p", "2222", "-i", "/k/id", "-o", "StrictHostKeyChecking=no"], "vdi.example"),
    ("qemu+libssh2://admin@10.0.0.5/system", "::1", [], "admin@10.0.0.5"),
])
def test_the_ssh_command_follows_the_libvirt_uri(uri: str, host: str, extra: list[str], target: str) -> None:
    forward = f"[{host}]:5901" if ":" in host else f"{host}:5901"
    assert ssh_argv(uri, host, 5901) == [*OPTIONS, *extra, "-W", forward, "--", target]


@pytest.mark.parametrize("uri", ["qemu:///system", "qemu+tcp://host/system", "test:///default"])
def test_only_ssh_uris_get_a_tunnel(uri: str) -> None:
    assert ssh_argv(uri, "127.0.0.1", 5900) is None


def device(listen: str, port: int | None = 5901) -> Graphics:
    return Graphics(index=0, type="vnc", port=port, tls_port=None, autoport=True, listen=listen, socket="", password="")


@pytest.mark.parametrize(("listen", "uri", "target"), [
    ("127.0.0.1", "qemu+ssh://root@vdi.example/system", ("127.0.0.1", 5901)),
    ("[::1]", "qemu+ssh://root@vdi.example/system", ("::1", 5901)),
    ("0.0.0.0", "qemu+ssh://root@vdi.example/system", None),  # reachable directly
    ("127.0.0.1", "qemu:///system", None),  # a local display
    ("127.0.0.1", "qemu+ssh://root@localhost/system", None),  # this machine after all
])
def test_only_a_remote_loopback_display_needs_the_host_to_reach_it(listen: str, uri: str,
                                                                   target: tuple[str, int] | None) -> None:
    assert loopback_target(device(listen), uri) == target
    assert loopback_target(device(listen, port=None), uri) is None  # not running: no port yet


def test_a_stream_runs_through_the_child_and_ends_with_it() -> None:
    fd = open_stream(["sh", "-c", "tr a-z A-Z"])  # stands in for ssh -W: bytes in, bytes out
    with socket.socket(fileno=fd) as sock:
        sock.sendall(b"rfb 003.008\n")
        sock.shutdown(socket.SHUT_WR)
        got = b""
        while chunk := sock.recv(100):
            got += chunk
    assert got == b"RFB 003.008\n"


def sockets() -> set[str]:
    """This process's open sockets."""
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found


def test_a_missing_ssh_is_an_error_not_a_leak() -> None:
    before = sockets()
    with pytest.raises(OSError):
        open_stream(["/nonexistent/ssh"])
    assert sockets() == before
