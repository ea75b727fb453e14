"""vmgui's own `ssh` first on PATH: its prompts go to vmgui's window (askpass), one shared connection per host.

libvirt starts `ssh` for qemu+ssh:// with a cleaned environment (PATH, HOME, DISPLAY, SSH_ASKPASS... but not
SSH_ASKPASS_REQUIRE), so the settings travel in a wrapper script found through PATH: a private 0700 directory
holds `bin/ssh` (sets SSH_ASKPASS_REQUIRE=force, so ssh never reads a terminal, and connection sharing),
`askpass` (runs vmgui/askpass.py with the socket path and a random token) and the sockets. The console
tunnels run `ssh` too and so reuse the master connection libvirt's ssh made: no second password.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import vmgui

SOCKET_ENV = "VMGUI_ASKPASS_SOCKET"
TOKEN_ENV = "VMGUI_ASKPASS_TOKEN"
CONTROL_PERSIST = 60  # seconds a shared connection stays after its last user (libvirt reconnecting, a console)
ASKPASS_SCRIPT = Path(vmgui.__file__).with_name("askpass.py")


@dataclass(frozen=True)
class SshRuntime:
    directory: Path  # private (0700); removed by remove()
    socket_path: Path  # where vmgui listens for askpass
    token: str  # askpass sends it; anything else is refused
    real_ssh: str
    old_path: str  # PATH before the wrapper's directory went first

    @property
    def bin_dir(self) -> Path:
        return self.directory / "bin"

    def control_sockets(self) -> list[Path]:
        return sorted(self.directory.glob("cm-*"))

    def remove(self) -> None:
        """Take the wrapper off PATH, end the shared connections and delete the directory."""
        if os.environ.get("PATH") == f"{self.bin_dir}{os.pathsep}{self.old_path}":
            os.environ["PATH"] = self.old_path
        for control in self.control_sockets():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run([self.real_ssh, "-o", f"ControlPath={control}", "-O", "exit", "vmgui-shared"],
                               capture_output=True, timeout=5, check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def _runtime_parent() -> str | None:
    """$XDG_RUNTIME_DIR when usable (private, in memory), else the temporary directory."""
    run = os.environ.get("XDG_RUNTIME_DIR", "")
    return run if run and os.path.isdir(run) and os.access(run, os.W_OK) else None


def _write_script(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o700)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def install() -> SshRuntime | None:
    """Put vmgui's ssh first on PATH for this process and its children (call before threads start, since
    it changes the environment). None when no ssh is installed."""
    real_ssh = shutil.which("ssh")
    if real_ssh is None:
        return None
    directory = Path(tempfile.mkdtemp(prefix="vmgui-ssh-", dir=_runtime_parent()))  # mode 0700
    runtime = SshRuntime(directory, directory / "askpass.sock", secrets.token_hex(16), real_ssh,
                         os.environ.get("PATH", os.defpath))
    runtime.bin_dir.mkdir(mode=0o700)
    q = shlex.quote
    askpass = directory / "askpass"
    _write_script(askpass, "#!/bin/sh\n"
                  f"{SOCKET_ENV}={q(str(runtime.socket_path))} {TOKEN_ENV}={q(runtime.token)} "
                  f"exec {q(sys.executable)} -I -S {q(str(ASKPASS_SCRIPT))} \"$@\"\n")
    _write_script(runtime.bin_dir / "ssh", "#!/bin/sh\n"
                  "# vmgui's ssh: questions are asked in vmgui's window; one shared connection per host\n"
                  f"SSH_ASKPASS={q(str(askpass))} SSH_ASKPASS_REQUIRE=force; export SSH_ASKPASS SSH_ASKPASS_REQUIRE\n"
                  f"exec {q(real_ssh)} -o ControlMaster=auto -o {q(f'ControlPath={directory}/cm-%C')} "
                  f"-o ControlPersist={CONTROL_PERSIST} \"$@\"\n")
    os.environ["PATH"] = f"{runtime.bin_dir}{os.pathsep}{runtime.old_path}"
    atexit.register(runtime.remove)  # also when vmgui ends without its usual clean-up
    return runtime
