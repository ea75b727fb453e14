"""Remote displays that listen only on their host's loopback, reached through ssh as libvirt's qemu+ssh is."""

from __future__ import annotations

import logging
import socket
import subprocess
import threading
from urllib.parse import parse_qs, urlsplit

log = logging.getLogger(__name__)
SSH_TRANSPORTS = ("ssh", "libssh", "libssh2")


def ssh_argv(uri: str, host: str, port: int) -> list[str] | None:
    """The ssh command that connects its standard input and output to `host:port` as seen from the libvirt
    host of `uri` (same user, port, key file and host-key checking as libvirt's own ssh), or None when
    `uri` is not a qemu+ssh-style URI."""
    parsed = urlsplit(uri)
    if parsed.scheme.rpartition("+")[2] not in SSH_TRANSPORTS or not parsed.hostname:
        return None
    query = parse_qs(parsed.query)
    argv = ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ExitOnForwardFailure=yes",
            "-e", "none"]
    if parsed.port:
        argv += ["-p", str(parsed.port)]
    if query.get("keyfile"):
        argv += ["-i", query["keyfile"][0]]
    if query.get("no_verify", ["0"])[0] == "1":
        argv += ["-o", "StrictHostKeyChecking=no"]
    target = f"[{host}]" if ":" in host else host
    argv += ["-W", f"{target}:{port}", "--", f"{parsed.username}@{parsed.hostname}" if parsed.username
             else parsed.hostname]
    return argv


def open_stream(argv: list[str]) -> int:
    """Start `argv` (from ssh_argv) with its input and output on one end of a socket pair: the other end's
    file descriptor, for the console client. ssh ends when the client closes it; what ssh says on failure
    goes to the log."""
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(), stderr=subprocess.PIPE,
                                close_fds=True, start_new_session=True)
    except OSError:
        ours.close()
        raise
    finally:
        theirs.close()
    threading.Thread(target=_reap, args=(proc, argv[-1]), name="ssh tunnel", daemon=True).start()
    return ours.detach()


def _reap(proc: subprocess.Popen[bytes], host: str) -> None:
    assert proc.stderr is not None
    said = proc.stderr.read().decode(errors="replace").strip()
    code = proc.wait()
    if code != 0:
        log.warning("the ssh tunnel to %s ended with %d: %s", host, code, said or "(nothing said)")
