"""Real libvirtd + QEMU fixtures: skip with the reason when absent, but fail under CI=true."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libvirt
import pytest

from tests.guest.build_desktop_guest import ensure_desktop_guest
from tests.guest.build_tiny_guest import TinyGuestFiles, ensure_tiny_guest
from tests.guest.tiny_guest import domain_xml, kvm_usable, qemu_runs_as_for, system_seclabel
from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.domain_xml import Disk, DomainXml
from vmgui.core.vdi import golden, pools
from vmgui.core.vdi.pool_specs import read_pools

SYSTEM_URI = "qemu:///system"
PREFIX = "vmgui-it-"
ROOT = Path(__file__).resolve().parents[2]


def unavailable(reason: str) -> None:
    """Skip (printing why) on a developer machine; under CI a missing hypervisor is a failure."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"integration test cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def virsh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", SYSTEM_URI, *args], capture_output=True, text=True,
                          timeout=120, check=check)


def _owner_alive(name: str) -> bool:
    """Guests are named PREFIX-tag-PID: is another test run that made this one still running?"""
    pid = name.rsplit("-", 1)[-1]
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(conn: libvirt.virConnect) -> None:
    """Remove test guests and pools that earlier, finished runs left behind (not those of a run still going)."""
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX) and not _owner_alive(dom.name()):
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()
    for pool in conn.listAllStoragePools(0):  # test_new_guest's transient pools
        if pool.name().startswith(PREFIX) and not _owner_alive(pool.name()):
            persistent = pool.isPersistent()  # a transient pool is gone once destroyed
            for vol in pool.listAllVolumes(0) if pool.isActive() else ():
                vol.delete(0)
            if pool.isActive():
                pool.destroy()
            if persistent:
                pool.undefine()


@pytest.fixture(scope="session")
def system_uri(aloop: asyncio.AbstractEventLoop) -> Iterator[str]:
    if shutil.which("qemu-system-x86_64") is None:
        unavailable("qemu-system-x86_64 is not installed (make test installs it)")
    if shutil.which("virsh") is None:
        unavailable("virsh is not installed (make test installs libvirt-clients)")
    try:
        conn = libvirt.open(SYSTEM_URI)
    except libvirt.libvirtError as err:
        unavailable(f"no libvirtd answers on {SYSTEM_URI} ({err}); make test starts one when run as root")
    remove_leftovers(conn)
    yield SYSTEM_URI
    with contextlib.suppress(libvirt.libvirtError):
        remove_leftovers(libvirt.open(SYSTEM_URI))
    conn.close()


@pytest.fixture(scope="session")
def tiny_files() -> TinyGuestFiles:
    try:
        return ensure_tiny_guest()
    except Exception as err:  # the build needs apt-get download of the Debian kernel
        unavailable(f"cannot build the tiny test guest: {err}")
        raise


@dataclass
class TinyGuest:
    name: str
    xml_path: Path
    serial_log: Path

    def serial(self) -> str:
        try:
            return self.serial_log.read_text(errors="replace")
        except OSError:
            return ""

    def wait_for_serial(self, marker: str, timeout: float = 120.0) -> float:
        started = time.monotonic()
        while marker not in self.serial():
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{self.name}: '{marker}' not on the serial console after {timeout} s:\n"
                                     f"{self.serial()[-2000:]}")
            time.sleep(0.2)
        return time.monotonic() - started


def make_guest(tiny_files: TinyGuestFiles, tag: str, *, displays: tuple[str, ...] = ("vnc",)) -> TinyGuest:
    name = f"{PREFIX}{tag}-{os.getpid()}"
    logdir = tiny_files.kernel.parent / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    serial_log = logdir / f"{name}.serial.log"
    serial_log.unlink(missing_ok=True)
    xml_path = logdir / f"{name}.xml"
    xml_path.write_text(domain_xml(name, tiny_files, serial_log=serial_log, displays=displays,
                                   domain_type="kvm" if kvm_usable() else "qemu",
                                   qemu_runs_as=qemu_runs_as_for(SYSTEM_URI)))
    return TinyGuest(name, xml_path, serial_log)


def booted(guest: TinyGuest) -> Iterator[TinyGuest]:
    """Define and start the guest, wait for its shells, and remove it afterwards."""
    virsh("define", str(guest.xml_path))
    virsh("start", guest.name)
    guest.wait_for_serial("VMGUI-TINY-GUEST READY")
    yield guest
    virsh("destroy", guest.name, check=False)
    virsh("undefine", guest.name, check=False)


@pytest.fixture(scope="session")
def running_guest(system_uri: str, tiny_files: TinyGuestFiles) -> Iterator[TinyGuest]:
    """One booted tiny guest shared by the tests that only need something running."""
    yield from booted(make_guest(tiny_files, "shared"))


@pytest.fixture(scope="session")
def running_spice_guest(system_uri: str, tiny_files: TinyGuestFiles) -> Iterator[TinyGuest]:
    """A booted tiny guest with a SPICE display first and a VNC display second."""
    yield from booted(make_guest(tiny_files, "spice", displays=("spice", "vnc")))


def image_info(path: str) -> dict[str, object]:
    """`qemu-img info` of an image (its format, size, backing file), even while a guest uses it."""
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True, text=True,
                         check=True).stdout
    info: dict[str, object] = json.loads(out)
    return info


def serial_text(dom: libvirt.virDomain) -> str:
    """What a guest wrote to its serial port so far (the log file its <serial> names)."""
    log = ET.fromstring(dom.XMLDesc(0)).find("devices/serial/log")
    try:
        return Path(log.get("file", "")).read_text(errors="replace") if log is not None else ""
    except OSError:
        return ""


@contextlib.contextmanager
def dir_pool(uri: str, name: str, path: Path) -> Iterator[storage.PoolInfo]:
    """A transient directory pool at `path` for the with-block, removed afterwards with its volumes and
    the directory (a transient pool is gone with the daemon too)."""
    path.mkdir(parents=True, exist_ok=True)
    conn = libvirt.open(uri)
    conn.storagePoolCreateXML(f"<pool type='dir'><name>{name}</name><target><path>{path}</path></target></pool>", 0)
    info = storage.pool_info(conn, name)
    conn.close()  # an idle connection would meet libvirt's keepalive timeout while other tests block
    try:
        yield info
    finally:
        conn = libvirt.open(uri)
        pool = conn.storagePoolLookupByName(name)
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()
        conn.close()
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def scratch_pool(system_uri: str, tiny_files: TinyGuestFiles) -> Iterator[storage.PoolInfo]:
    """A directory pool of this test run (the host may have none), removed afterwards with its volumes."""
    name = f"{PREFIX}pool-{os.getpid()}"
    with dir_pool(system_uri, name, tiny_files.kernel.parent / "pools" / name) as info:
        yield info


def remove_pool_and_versions(conn: libvirt.virConnect, pool: str, golden_uuid: str) -> None:
    """Test clean-up: the desktop pool (assigned desktops too) and every version of its golden image."""
    if any(p.name == pool for p in read_pools(conn)):
        pools.remove_pool(conn, pool, assigned_too=True)
    image = golden.read_golden(conn.lookupByUUIDString(golden_uuid))
    for version in image.versions if image else ():
        golden.retire(conn, golden_uuid, version.number)


@pytest.fixture(scope="module")
def disk_guest(request: pytest.FixtureRequest, system_uri: str, tiny_files: TinyGuestFiles,
               scratch_pool: storage.PoolInfo) -> Iterator[str]:
    """A shut-off tiny guest with a 1 GiB qcow2 data disk in the scratch pool (one per test module): its UUID.

    Guests named after it (clones) and its images are removed afterwards.
    """
    conn = libvirt.open(system_uri)
    name = f"{PREFIX}{request.module.__name__.rsplit('.', 1)[-1].removeprefix('test_')}-{os.getpid()}"
    volume = storage.create_volume(conn, scratch_pool.name, f"{name}.qcow2", storage.GIB)
    dom = DomainXml(domain_xml(name, tiny_files, serial_log=Path(scratch_pool.path or "") / f"{name}.serial.log",
                               qemu_runs_as=qemu_runs_as_for(system_uri)))
    disk = dom.add_device(Disk.new(type="file", device="disk"))
    disk.element.append(disk.element.makeelement("driver", {"name": "qemu", "type": "qcow2"}))
    disk.set_file(volume.path)
    disk.target_dev, disk.target_bus = "vda", "virtio"
    uuid = conn.defineXML(dom.to_xml()).UUIDString()
    conn.close()  # idle connections meet libvirt's keepalive timeout
    yield uuid
    conn = libvirt.open(system_uri)
    mine = f"-{os.getpid()}"  # another test run's clones are that run's to remove (it may still use them)
    remove_guests(conn, lambda n: n.startswith(name) or (n.startswith(f"{PREFIX}clone-") and n.endswith(mine)))
    remove_volumes(conn, scratch_pool.name, lambda n: n.startswith(name))
    conn.close()


@dataclass
class DesktopGuest:
    name: str
    directory: Path

    def run(self, script: str) -> int:
        """Start `script` in the guest (qemu-guest-agent guest-exec) and return its pid at once."""
        return int(self.agent("guest-exec", {"path": "/bin/sh", "arg": ["-c", script], "capture-output": True})["pid"])

    def result(self, pid: int) -> tuple[int, str] | None:
        """(exit code, stdout) once the command has ended, else None."""
        status = self.agent("guest-exec-status", {"pid": pid})
        if not status.get("exited"):
            return None
        return int(status.get("exitcode", -1)), base64.b64decode(status.get("out-data", "")).decode(errors="replace")

    def agent(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        message = json.dumps({"execute": command, **({"arguments": arguments} if arguments else {})})
        out = virsh("qemu-agent-command", self.name, message).stdout
        return json.loads(out)["return"]

    def agent_answers(self) -> bool:
        return virsh("qemu-agent-command", self.name, '{"execute":"guest-ping"}', check=False).returncode == 0


@pytest.fixture(scope="session")
def running_desktop_guest(system_uri: str) -> Iterator[DesktopGuest]:
    """Debian with Xorg and spice-vdagent (tests/guest/desktop), booted once from a qcow2 overlay."""
    try:
        files = ensure_desktop_guest()
    except Exception as err:  # needs debootstrap and Debian's mirror
        unavailable(f"cannot build the desktop test guest: {err}")
        raise
    name = f"{PREFIX}desktop-{os.getpid()}"
    directory = files.disk.parent / "runs" / name
    directory.mkdir(parents=True, exist_ok=True)
    overlay = directory / "overlay.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(files.disk), "-F", "raw", str(overlay)],
                   check=True)
    xml = (ROOT / "tests" / "guest" / "desktop" / "domain.xml").read_text()
    xml = (xml.replace("<name>vdagent-probe</name>", f"<name>{name}</name>")
              .replace("/tmp/vdagent-guest/vmlinuz", str(files.kernel))
              .replace("/tmp/vdagent-guest/initrd.img", str(files.initrd))
              .replace("<driver name='qemu' type='raw'/>", "<driver name='qemu' type='qcow2'/>")
              .replace("/tmp/vdagent-guest/disk.img", str(overlay))
              .replace("/tmp/vdagent-guest/", f"{directory}/"))
    runs_as = qemu_runs_as_for(system_uri)
    if runs_as is not None:  # the cache is under root's home: QEMU runs as the test's user, as for the tiny guest
        xml = xml.replace("</domain>", ET.tostring(system_seclabel(*runs_as), encoding="unicode") + "\n</domain>")
    (directory / "domain.xml").write_text(xml)
    virsh("define", str(directory / "domain.xml"))
    virsh("start", name)
    guest = DesktopGuest(name, directory)
    try:
        deadline = time.monotonic() + 180
        while not guest.agent_answers():
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: the guest agent did not answer within 180 s")
            time.sleep(1)
        yield guest
    finally:
        virsh("destroy", name, check=False)
        virsh("undefine", name, check=False)
        shutil.rmtree(directory, ignore_errors=True)
