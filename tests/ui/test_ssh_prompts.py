"""ssh's questions in vmgui's dialogs, through the real path: the askpass launcher, its socket, the prompt server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from PySide6.QtWidgets import QLabel, QLineEdit

from tests.helpers import wait_until
from tests.ssh_prompt_helpers import answer, cancel, next_dialog, open_dialogs, ssh_prompts  # noqa: F401
from vmgui.core.ssh_prompt import PromptKind
from vmgui.core.ssh_runtime import ASKPASS_SCRIPT, SOCKET_ENV, TOKEN_ENV
from vmgui.ui.ssh_prompts import SshPromptServer

HOST_KEY = ("The authenticity of host '[vm1.example.org]:2222 ([192.0.2.7]:2222)' can't be established.\n"
            "ED25519 key fingerprint is SHA256:3LV809JoETL7E/V0F5jZ+j8VdEVxL4BeucJl+L7+AW4.\n"
            "This key is not known by any other names.\n"
            "Are you sure you want to continue connecting (yes/no/[fingerprint])? ")


def ask_as_ssh(server: SshPromptServer, prompt: str) -> subprocess.Popen[str]:
    """Run the askpass launcher vmgui wrote from a process whose command line is ssh's (argv[0] "ssh", port and
    destination), as OpenSSH runs it; that process prints askpass's exit code and output as JSON."""
    launcher = server.socket_path.parent / "askpass"
    code = ("import json, subprocess\n"
            f"done = subprocess.run([{str(launcher)!r}, {prompt!r}], capture_output=True, text=True)\n"
            "print(json.dumps([done.returncode, done.stdout, done.stderr]), flush=True)\n")
    env = {"PATH": os.environ["PATH"]}  # nothing of vmgui's: the launcher brings the socket and token
    return subprocess.Popen(["bash", "-c", 'exec -a ssh "$0" -c "$1" -p 2222 alice@vm1.example.org', sys.executable,
                             code], env=env, stdout=subprocess.PIPE, text=True)


def outcome(ssh: subprocess.Popen[str]) -> tuple[int, str, str] | int:
    """What askpass did (exit code, stdout, stderr), or the fake ssh's own exit code when askpass ended it."""
    wait_until(lambda: ssh.poll() is not None, timeout=20, what="askpass to end")
    assert ssh.stdout is not None
    said = ssh.stdout.read()
    if not said:
        return ssh.returncode
    code, out, err = json.loads(said)
    return code, out, err


def test_a_password_is_asked_with_echo_off_and_handed_to_ssh(ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    ssh = ask_as_ssh(ssh_prompts, "alice@vm1.example.org's password: ")
    dialog = next_dialog()
    assert dialog.prompt.kind is PromptKind.PASSWORD
    assert dialog.windowTitle() == "Password for alice@vm1.example.org:2222"
    said = dialog.findChild(QLabel, "sshText")
    assert said is not None and said.text() == "alice@vm1.example.org's password:"
    field = dialog.findChild(QLineEdit, "secret")
    assert field is not None and field.echoMode() is QLineEdit.EchoMode.Password
    answer(dialog, "pä ss wörd")
    assert outcome(ssh) == (0, "pä ss wörd\n", "")
    assert not open_dialogs()


def test_an_unknown_host_key_is_a_yes_no_question_showing_its_fingerprint(
        ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    ssh = ask_as_ssh(ssh_prompts, HOST_KEY)
    dialog = next_dialog()
    assert dialog.prompt.kind is PromptKind.HOST_KEY
    assert dialog.windowTitle() == "Unknown host key for alice@vm1.example.org:2222"
    fingerprint = dialog.findChild(QLabel, "fingerprint")
    assert fingerprint is not None and fingerprint.text() == "SHA256:3LV809JoETL7E/V0F5jZ+j8VdEVxL4BeucJl+L7+AW4"
    said = dialog.findChild(QLabel, "sshText")
    assert said is not None and "can't be established" in said.text()
    answer(dialog)
    assert outcome(ssh) == (0, "yes\n", "")


def test_refusing_a_host_key_says_so_to_ssh_which_then_stops_by_itself(
        ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    ssh = ask_as_ssh(ssh_prompts, HOST_KEY)
    cancel(next_dialog())
    assert outcome(ssh) == (1, "", "The host key of alice@vm1.example.org:2222 was not accepted [vmgui].\n")


def test_cancelling_a_password_ends_the_ssh_that_asked(ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    ssh = ask_as_ssh(ssh_prompts, "alice@vm1.example.org's password: ")
    cancel(next_dialog())
    assert outcome(ssh) == -signal.SIGTERM  # else it would try an empty password and ask again


def test_questions_come_one_at_a_time(ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    first = ask_as_ssh(ssh_prompts, "alice@vm1.example.org's password: ")
    assert next_dialog().prompt.kind is PromptKind.PASSWORD
    second = ask_as_ssh(ssh_prompts, HOST_KEY)
    later = time.monotonic() + 0.5  # askpass starts in about 30 ms: time enough to ask, were it asked
    wait_until(lambda: time.monotonic() > later, what="half a second")
    assert [d.prompt.kind for d in open_dialogs()] == [PromptKind.PASSWORD] and second.poll() is None
    answer(next_dialog(), "one")
    assert outcome(first) == (0, "one\n", "")
    host_key = next_dialog()  # the second question, only now
    assert host_key.prompt.kind is PromptKind.HOST_KEY
    answer(host_key)
    assert outcome(second) == (0, "yes\n", "")


def test_a_wrong_token_is_refused_without_asking(ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    env = {SOCKET_ENV: str(ssh_prompts.socket_path), TOKEN_ENV: "guessed"}
    done = subprocess.Popen([sys.executable, "-I", "-S", str(ASKPASS_SCRIPT), "Password: "], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_until(lambda: done.poll() is not None, timeout=20, what="askpass to end")
    assert done.returncode == 1 and done.stdout is not None and done.stdout.read() == ""
    assert not open_dialogs()


def test_the_dialog_goes_away_when_ssh_stops_waiting(ssh_prompts: SshPromptServer) -> None:  # noqa: F811
    ssh = ask_as_ssh(ssh_prompts, "alice@vm1.example.org's password: ")
    next_dialog()
    for pid in _children(ssh.pid):  # askpass ends, as when ssh is killed (libvirt gave up, vmgui disconnected)
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not open_dialogs(), timeout=10, what="the dialog to close")
    assert outcome(ssh)[0] == -signal.SIGTERM  # type: ignore[index]


def _children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "stat").read_text().rsplit(")", 1)[1].split()[1] == str(pid):
                found.append(int(proc.name))
        except OSError:
            continue
    assert found, "askpass is running"
    return found
