"""ssh's SSH_ASKPASS inside vmgui: asks vmgui's window over its socket, prints the answer (stdlib only, starts fast)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys

SOCKET_ENV = "VMGUI_ASKPASS_SOCKET"  # as in vmgui.core.ssh_runtime (not imported: this runs with python -I -S)
TOKEN_ENV = "VMGUI_ASKPASS_TOKEN"
MAX_REPLY = 65536


def parent_argv() -> list[str]:
    """The command line of the process that ran us (ssh), [] where it cannot be read."""
    try:
        with open(f"/proc/{os.getppid()}/cmdline", "rb") as f:
            raw = f.read()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def ask(path: str, token: str, prompt: str, argv: list[str], timeout: float | None = None) -> dict[str, object]:
    """Send the question, wait for vmgui's reply (as long as the person takes). OSError when vmgui is not
    there or hangs up (a wrong token is refused that way)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(json.dumps({"token": token, "prompt": prompt, "ssh_argv": argv}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("vmgui closed the connection without an answer")
            data += chunk
            if len(data) > MAX_REPLY:
                raise ConnectionError("vmgui's answer is too long")
    reply = json.loads(data)
    if not isinstance(reply, dict):
        raise ConnectionError("vmgui's answer is not understood")
    return reply


def _stop_ssh(argv: list[str]) -> None:
    """End the ssh that asked, so it does not try an empty password NumberOfPasswordPrompts times (each
    a new question) after the person said no."""
    if argv and os.path.basename(argv[0]) == "ssh":
        os.kill(os.getppid(), signal.SIGTERM)


def main(args: list[str]) -> int:
    prompt = args[1] if len(args) > 1 else ""
    if os.environ.get("SSH_ASKPASS_PROMPT") == "none":
        return 0  # a notice to show while ssh waits (touch a security key): nothing to answer
    argv = parent_argv()
    try:
        reply = ask(os.environ[SOCKET_ENV], os.environ[TOKEN_ENV], prompt, argv)
    except (OSError, KeyError, ValueError) as err:
        print(f"The question could not be shown in vmgui: {err} [vmgui].", file=sys.stderr)
        _stop_ssh(argv)
        return 1
    answer = reply.get("answer")
    if not isinstance(answer, str):
        said = reply.get("message")
        if isinstance(said, str) and said:
            print(said, file=sys.stderr)
        if reply.get("stop_ssh"):
            _stop_ssh(argv)
        return 1
    sys.stdout.write(answer + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
