"""Reading ssh's questions: their kind, host and host-key fingerprint; an unanswered one found in an error."""

from __future__ import annotations

import pytest

from vmgui.core.ssh_prompt import PromptKind, destination_of, login_refused, not_answered_in, parse_prompt

LIBVIRT_SSH = ["/usr/bin/ssh", "-o", "ControlMaster=auto", "-o", "ControlPath=/run/x/cm-%C", "-p", "2222",
               "-l", "alice", "-T", "-e", "none", "--", "vm1.example.org", "sh", "-c", "virt-ssh-helper"]
HOST_KEY = ("The authenticity of host '[vm1.example.org]:2222 ([192.0.2.7]:2222)' can't be established.\n"
            "ED25519 key fingerprint is SHA256:3LV809JoETL7E/V0F5jZ+j8VdEVxL4BeucJl+L7+AW4.\n"
            "This key is not known by any other names.\n"
            "Are you sure you want to continue connecting (yes/no/[fingerprint])? ")


def test_a_host_key_question_with_its_fingerprint() -> None:
    prompt = parse_prompt(HOST_KEY, LIBVIRT_SSH)
    assert prompt.kind is PromptKind.HOST_KEY and prompt.is_question
    assert prompt.fingerprint == "SHA256:3LV809JoETL7E/V0F5jZ+j8VdEVxL4BeucJl+L7+AW4"
    assert prompt.destination == "alice@vm1.example.org:2222"
    assert prompt.not_answered() == "The host key of alice@vm1.example.org:2222 was not accepted [vmgui]."


@pytest.mark.parametrize(("text", "kind", "said"), [
    ("alice@vm1.example.org's password: ", PromptKind.PASSWORD, "password"),
    ("Enter passphrase for key '/home/alice/.ssh/id_ed25519': ", PromptKind.PASSPHRASE, "key passphrase"),
    ("Verification code: ", PromptKind.OTHER, "answer"),
])
def test_secrets(text: str, kind: PromptKind, said: str) -> None:
    prompt = parse_prompt(text, LIBVIRT_SSH)
    assert prompt.kind is kind and not prompt.is_question
    assert prompt.not_answered() == f"The {said} for alice@vm1.example.org:2222 was not given [vmgui]."


@pytest.mark.parametrize(("argv", "destination"), [
    (["ssh", "-W", "127.0.0.1:5900", "-p", "22", "--", "root@h"], "root@h"),  # the console tunnel
    (["ssh", "-oBatchMode=yes", "-p2200", "bob@h", "ls"], "bob@h:2200"),
    (["ssh", "-T", "-l", "carol", "fe80::1"], "carol@fe80::1"),
    (["ssh", "-p", "2200", "2001:db8::5"], "[2001:db8::5]:2200"),
    (["ssh", "-vT"], ""),
    (["/usr/bin/python3", "x.py", "host"], ""),  # not ssh: its argv names no host
    ([], ""),
])
def test_the_destination_from_sshs_argv(argv: list[str], destination: str) -> None:
    assert destination_of(argv) == destination


def test_an_unanswered_question_is_found_in_libvirts_error() -> None:
    error = ("Cannot recv data: Warning: Permanently added '[192.0.2.2]:44691' (ED25519) to the list of known hosts.\n"
             "Permission denied, please try again.\n"
             "The password for bob@192.0.2.2:44691 was not given [vmgui].: Connection reset by peer")
    assert not_answered_in(error) == "The password for bob@192.0.2.2:44691 was not given."
    assert not_answered_in("Cannot recv data: bob@h: Permission denied (password).: Connection reset by peer") == ""


def test_a_refused_login_or_host_key_is_told_from_a_host_that_is_away() -> None:
    assert login_refused("Cannot recv data: bob@h: Permission denied (publickey,password).: Connection reset by peer")
    assert login_refused("Cannot recv data: Host key verification failed.: Connection reset by peer")
    assert not login_refused("Cannot recv data: ssh: connect to host h port 22: Connection refused")
    assert not login_refused("Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied")
