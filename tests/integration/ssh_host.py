"""A remote host for the tests: this machine's libvirtd through an sshd of the test run, on a non-loopback address."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import libvirt
import pytest

from tests.integration.conftest import unavailable
from vmgui.core import storage


def _global_ipv4() -> str:
    """This machine's first IPv4 address that is not loopback ('' when it has none)."""
    try:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    for line in out.splitlines():
        fields = line.split()
        if "inet" in fields:
            return fields[fields.index("inet") + 1].split("/")[0]
    return ""


def wait_for_sshd(proc: subprocess.Popen[bytes], address: str, port: int, log: Path) -> None:
    """Until the sshd just started answers on address:port (the test fails with its log if it never does)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection((address, port), timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"sshd did not start: {log.read_text()}")
            time.sleep(0.1)


def _free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def ssh_system_uri(system_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """qemu+ssh://root@<this machine's address>:<port>/system through an sshd started for the run, with a
    key of its own: what vmgui sees of a remote host (the guests' displays on its loopback are not
    reachable directly)."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        unavailable("openssh-server is not installed (make test installs it)")
    if os.geteuid() != 0:
        unavailable("the remote-host tests start sshd and log in as root: run them as root")
    address = _global_ipv4()
    if not address:
        unavailable("this machine has no non-loopback IPv4 address to play a remote host on")
    d = tmp_path_factory.mktemp("sshd")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    port = _free_port(address)
    proc = subprocess.Popen([sshd, "-D", "-e", "-f", "/dev/null", "-h", str(d / "host_key"),
                             "-o", f"ListenAddress={address}:{port}",
                             "-o", f"AuthorizedKeysFile={d}/authorized_keys .ssh/authorized_keys",
                             "-o", "PermitRootLogin=prohibit-password", "-o", "PasswordAuthentication=no",
                             "-o", "StrictModes=no", "-o", "UsePAM=no", "-o", "PidFile=none",
                             "-o", "Subsystem=sftp internal-sftp"],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "wb"))  # noqa: SIM115
    uri = f"qemu+ssh://root@{address}:{port}/system?keyfile={d}/client_key&no_verify=1"
    try:
        wait_for_sshd(proc, address, port, d / "sshd.log")
        libvirt.open(uri).close()  # libvirt itself gets through: the host is usable
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SECOND_USER = "vmgui-it-host2"


@pytest.fixture(scope="session")
def second_host_uri(ssh_system_uri: str) -> Iterator[str]:
    """Another host: a user's own libvirt (qemu:///session, its own guests and storage) reached over ssh,
    as a second machine would be. It has a default storage pool in that user's home."""
    if subprocess.run(["id", SECOND_USER], capture_output=True, check=False).returncode != 0:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", SECOND_USER], check=True)
    # no password, but not locked: sshd without PAM refuses a locked account even with a good key
    subprocess.run(["usermod", "--password", "*", SECOND_USER], check=True)
    key = parse_qs(urlsplit(ssh_system_uri).query)["keyfile"][0]
    ssh_dir = Path(f"/home/{SECOND_USER}/.ssh")  # sshd reads a user's keys as that user
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(Path(f"{key}.pub").read_text())
    subprocess.run(["chown", "-R", f"{SECOND_USER}:", str(ssh_dir)], check=True)
    base = urlsplit(ssh_system_uri)
    uri = urlunsplit(base._replace(netloc=f"{SECOND_USER}@{base.hostname}:{base.port}", path="/session"))
    conn = libvirt.open(uri)
    try:
        try:
            conn.storagePoolLookupByName(storage.DEFAULT_POOL)
        except libvirt.libvirtError:
            storage.create_default_pool(conn, f"/home/{SECOND_USER}/.local/share/libvirt/images")
    finally:
        conn.close()
    yield uri
