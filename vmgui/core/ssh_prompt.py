"""What an ssh prompt asks (password, key passphrase, unknown host key) and for which host, from its text and argv."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum

# ssh's options that take an argument (OpenSSH's getopt string), so the destination can be told apart
_WITH_ARGUMENT = set("BbcDEeFIiJLlmOoPpQRSWw")
_YES_NO = re.compile(r"\((yes/no(/\[fingerprint\])?)\)\?\s*$")
_FINGERPRINT = re.compile(r"key fingerprint is (\S+?)\.?\s")
# How vmgui's askpass says that a question went unanswered; Connection finds it in libvirt's error.
NOT_ANSWERED = " [vmgui]"  # ends the sentence; not shown once found
# What OpenSSH says when the host refused every way of logging in, or its key does not match the one
# known: trying again the same way cannot help.
_LOGIN_REFUSED = re.compile(r"Permission denied \([\w,-]+\)|Host key verification failed")


class PromptKind(Enum):
    PASSWORD = "password"
    PASSPHRASE = "passphrase"  # of a private key
    HOST_KEY = "host key"  # yes/no: connect to a host whose key is not known yet
    OTHER = "other"  # keyboard-interactive questions (one-time codes...): answered as a secret


@dataclass(frozen=True)
class SshPrompt:
    text: str  # what ssh asks, as it says it
    destination: str  # user@host[:port] ssh was connecting to ("" when unknown)
    kind: PromptKind
    fingerprint: str = ""  # HOST_KEY: the key's fingerprint as ssh shows it (SHA256:...)

    @property
    def is_question(self) -> bool:
        return self.kind is PromptKind.HOST_KEY

    def not_answered(self) -> str:
        """The sentence for ssh's error output when the user cancels this prompt."""
        where = f" for {self.destination}" if self.destination else ""
        if self.kind is PromptKind.HOST_KEY:
            return f"The host key of {self.destination or 'the host'} was not accepted{NOT_ANSWERED}."
        what = {PromptKind.PASSWORD: "password", PromptKind.PASSPHRASE: "key passphrase"}.get(self.kind, "answer")
        return f"The {what}{where} was not given{NOT_ANSWERED}."


def parse_prompt(text: str, ssh_argv: list[str]) -> SshPrompt:
    destination = destination_of(ssh_argv)
    if _YES_NO.search(text):
        found = _FINGERPRINT.search(text)
        return SshPrompt(text, destination, PromptKind.HOST_KEY, found.group(1) if found else "")
    lowered = text.lower()
    if "passphrase" in lowered:
        kind = PromptKind.PASSPHRASE
    elif "password" in lowered:
        kind = PromptKind.PASSWORD
    else:
        kind = PromptKind.OTHER
    return SshPrompt(text, destination, kind)


def destination_of(argv: list[str]) -> str:
    """user@host[:port] from an ssh command line (-l and -p included), or "" when it names none."""
    if not argv or os.path.basename(argv[0]) != "ssh":
        return ""
    user, port, host = "", "", ""
    args = iter(argv[1:])
    for arg in args:
        if arg == "--":
            host = next(args, "")
            break
        if not arg.startswith("-") or arg == "-":
            host = arg
            break
        letters = arg[1:]
        for i, letter in enumerate(letters):
            if letter in _WITH_ARGUMENT:
                value = letters[i + 1:] or next(args, "")
                if letter == "l":
                    user = value
                elif letter == "p":
                    port = value
                break
    if not host:
        return ""
    if "@" in host:
        user, host = host.rsplit("@", 1)
    host = f"[{host}]" if ":" in host and port else host
    return f"{user + '@' if user else ''}{host}{':' + port if port and port != '22' else ''}"


def not_answered_in(error: str) -> str:
    """The sentence saying which prompt went unanswered, when `error` (libvirt's, with ssh's output) has one."""
    for line in error.splitlines():
        index = line.find(NOT_ANSWERED)
        if index >= 0:
            start = max(line.rfind("The ", 0, index), 0)
            return line[start:index] + "."
    return ""


def login_refused(error: str) -> bool:
    """Whether `error` (libvirt's, with ssh's output) says the host refused the login or its host key."""
    return _LOGIN_REFUSED.search(error) is not None
