"""A host that wants a password: an sshd of the test with a host key nobody knows yet and a user with a password."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import unavailable
from tests.integration.ssh_host import _free_port, _global_ipv4, wait_for_sshd

USER = "vmgui-it-pw"
PASSWORD = "it-pw-Secret-42"
KNOWN_HOSTS = Path.home() / ".ssh" / "known_hosts"


@dataclass(frozen=True)
class PasswordHost:
    address: str
    port: int
    fingerprint: str  # SHA256:... of its host key

    @property
    def uri(self) -> str:
        return f"qemu+ssh://{USER}@{self.address}:{self.port}/session"


def _user_pids() -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "-u", USER], capture_output=True, text=True, check=False).stdout
    return [int(pid) for pid in out.split()]


@pytest.fixture(scope="session")
def password_user(system_uri: str) -> Iterator[str]:
    """USER with PASSWORD and no keys; removed with its home and processes (its libvirt session daemon) at the end."""
    if os.geteuid() != 0:
        unavailable("the password-host tests add a user and start sshd: run them as root")
    if subprocess.run(["id", USER], capture_output=True, check=False).returncode == 0:
        subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)  # an earlier run's
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True)
        yield USER
    finally:
        for _ in range(50):  # its session libvirtd and ssh sessions, all started by these tests
            pids = _user_pids()
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, 15)
            time.sleep(0.1)
        subprocess.run(["userdel", "--remove", USER], capture_output=True, check=False)


@pytest.fixture
def password_host(password_user: str, tmp_path: Path) -> Iterator[PasswordHost]:
    """sshd on this machine's address that lets only USER in, by password; its host key is new every test, so
    ssh asks whether to trust it. Its known_hosts entry is removed afterwards."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        unavailable("openssh-server is not installed (make test installs it)")
    address = _global_ipv4()
    if not address:
        unavailable("this machine has no non-loopback IPv4 address to play a remote host on")
    key = tmp_path / "host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    fingerprint = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(key)], capture_output=True,
                                 text=True, check=True).stdout.split()[1]
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    port = _free_port(address)
    log = tmp_path / "sshd.log"
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", "/dev/null", "-h", str(key),
                             "-o", f"ListenAddress={address}:{port}", "-o", f"AllowUsers={USER}",
                             "-o", "PasswordAuthentication=yes", "-o", "KbdInteractiveAuthentication=no",
                             "-o", "PubkeyAuthentication=no", "-o", "PermitRootLogin=no", "-o", "UsePAM=no",
                             "-o", "PidFile=none", "-o", "MaxAuthTries=6"],
                            stdout=subprocess.DEVNULL, stderr=open(log, "wb"))  # noqa: SIM115
    had_old = KNOWN_HOSTS.with_suffix(".old").exists()
    try:
        wait_for_sshd(proc, address, port, log)
        yield PasswordHost(address, port, fingerprint)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if KNOWN_HOSTS.exists():
            subprocess.run(["ssh-keygen", "-R", f"[{address}]:{port}", "-f", str(KNOWN_HOSTS)],
                           capture_output=True, check=False)
            if not had_old:
                KNOWN_HOSTS.with_suffix(".old").unlink(missing_ok=True)
