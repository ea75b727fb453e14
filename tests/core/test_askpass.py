"""vmgui/askpass.py as ssh runs it (python -I -S, the socket and token in its environment) against a fake vmgui."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vmgui.core.ssh_runtime import ASKPASS_SCRIPT, SOCKET_ENV, TOKEN_ENV

TOKEN = "0123456789abcdef"
Reply = Callable[[dict[str, object]], bytes | None]  # what the fake vmgui says to a request (None: hang up)


class FakeVmgui:
    """A unix socket that reads one request line per connection and answers with `reply`."""

    def __init__(self, path: Path, reply: Reply) -> None:
        self.path = path
        self.reply = reply
        self.requests: list[dict[str, object]] = []
        self._sock = socket.socket(socket.AF_UNIX)
        self._sock.bind(str(path))
        self._sock.listen(1)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            with client, client.makefile("rb") as f:
                request = json.loads(f.readline())
                self.requests.append(request)
                answer = self.reply(request)
                if answer is not None:
                    client.sendall(answer)

    def close(self) -> None:
        self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "askpass.sock"


@pytest.fixture
def fake(sock_path: Path) -> Iterator[Callable[[Reply], FakeVmgui]]:
    made: list[FakeVmgui] = []

    def make(reply: Reply) -> FakeVmgui:
        made.append(FakeVmgui(sock_path, reply))
        return made[-1]
    yield make
    for server in made:
        server.close()


def askpass(sock_path: Path, prompt: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), SOCKET_ENV: str(sock_path), TOKEN_ENV: token}
    return subprocess.run([sys.executable, "-I", "-S", str(ASKPASS_SCRIPT), prompt], env=env, capture_output=True,
                          text=True, timeout=20, check=False)


def test_the_answer_is_printed_for_ssh(fake: Callable[[Reply], FakeVmgui], sock_path: Path) -> None:
    server = fake(lambda _request: b'{"answer": "s3cret p\\u00e4ss"}\n')
    done = askpass(sock_path, "root@host's password: ")
    assert (done.returncode, done.stdout, done.stderr) == (0, "s3cret p\u00e4ss\n", "")
    [request] = server.requests
    assert request["token"] == TOKEN and request["prompt"] == "root@host's password: "
    assert isinstance(request["ssh_argv"], list) and request["ssh_argv"]  # who asked: here pytest, normally ssh


def test_a_cancelled_question_exits_1_and_says_why_on_ssh_stderr(fake: Callable[[Reply], FakeVmgui],
                                                                 sock_path: Path) -> None:
    fake(lambda _request: b'{"message": "The password for root@host was not given [vmgui].", "stop_ssh": true}\n')
    done = askpass(sock_path, "root@host's password: ")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == "The password for root@host was not given [vmgui]."  # its parent is no ssh: alive


def test_an_unreachable_vmgui_is_a_failure_not_a_wait(sock_path: Path) -> None:
    done = askpass(sock_path, "Password: ")  # nobody listens
    assert done.returncode == 1 and done.stdout == ""
    assert "could not be shown in vmgui" in done.stderr and done.stderr.strip().endswith("[vmgui].")


def test_a_vmgui_that_hangs_up_without_answering_is_a_failure(fake: Callable[[Reply], FakeVmgui],
                                                              sock_path: Path) -> None:
    server = fake(lambda request: b'{"answer": "x"}\n' if request["token"] == "right" else None)
    done = askpass(sock_path, "Password: ", token="wrong")  # the real server hangs up on a wrong token
    assert done.returncode == 1 and done.stdout == ""
    assert "without an answer" in done.stderr
    assert askpass(sock_path, "Password: ", token="right").stdout == "x\n"
    assert [r["token"] for r in server.requests] == ["wrong", "right"]


def test_a_notice_needs_no_answer(sock_path: Path) -> None:
    env = {SOCKET_ENV: str(sock_path), TOKEN_ENV: TOKEN, "SSH_ASKPASS_PROMPT": "none"}
    done = subprocess.run([sys.executable, "-I", "-S", str(ASKPASS_SCRIPT), "Confirm user presence"], env=env,
                          capture_output=True, text=True, timeout=20, check=False)
    assert (done.returncode, done.stdout) == (0, "")


@pytest.mark.parametrize("stop", [True, False])
def test_after_a_refusal_the_asking_ssh_is_ended_when_vmgui_says_so(fake: Callable[[Reply], FakeVmgui],
                                                                     sock_path: Path, stop: bool) -> None:
    """ssh would try an empty password after a cancelled question and ask again, up to three times."""
    fake(lambda _request: json.dumps({"message": "no [vmgui].", "stop_ssh": stop}).encode() + b"\n")
    parent = ("import subprocess, time\n"
              f"code = subprocess.run([{sys.executable!r}, '-I', '-S', {str(ASKPASS_SCRIPT)!r}, 'Password: '])"
              ".returncode\n"
              "print('askpass ended', code, flush=True)\n"
              "time.sleep(20)\n")
    env = {SOCKET_ENV: str(sock_path), TOKEN_ENV: TOKEN}
    # a parent whose argv[0] is "ssh", as OpenSSH's is when it runs askpass
    ssh = subprocess.Popen(["bash", "-c", 'exec -a ssh "$0" -c "$1"', sys.executable, parent], env=env,
                           stdout=subprocess.PIPE, text=True)
    try:
        assert ssh.stdout is not None
        said = ssh.stdout.readline()  # "" when it was ended before askpass returned
        if stop:
            assert said == "" and ssh.wait(timeout=5) == -15
        else:
            assert said == "askpass ended 1\n" and ssh.poll() is None
    finally:
        ssh.kill()
        ssh.wait()
