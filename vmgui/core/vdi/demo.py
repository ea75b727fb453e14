"""The demo desktop pool: 3 tiny Linux desktops on a golden image, made or removed in one go (blocking).

build_demo builds the tiny guest from Debian packages (vmgui.core.tiny_guest, cached), puts its kernel and
initramfs into the host's storage pool (so QEMU, system or session, local or remote, can read them), defines
the golden guest, publishes it as v1, saves and provisions the pool and assigns its first desktop to the local
user. Every step is skipped when it is already done, so running it again changes nothing (and completes a
demo that lost a part). A failure or cancel removes what that run made, never what was there before.
remove_demo takes all of it away again; it too may run any number of times.
"""

from __future__ import annotations

import functools
import getpass
import logging
import os
import threading
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import libvirt

from vmgui.core import storage
from vmgui.core.errors import VmguiError, describe
from vmgui.core.guest_delete import delete_guest, disks_of, undefine
from vmgui.core.host_caps import read_host_caps
from vmgui.core.tiny_guest import KERNEL_CMDLINE, BuildCancelled, BuildError, ensure_tiny_guest
from vmgui.core.vdi import desktops as desk
from vmgui.core.vdi import golden, pools
from vmgui.core.vdi.demo_names import DEFAULT_NAMES, SIZE, DemoNames
from vmgui.core.vdi.desktops import Desktop
from vmgui.core.vdi.pool_specs import PoolSpec, find_pool, read_pools, save_pool

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

MEMORY_MIB = 192
DISK_BYTES = 64 * 1024 ** 2   # the golden guest's (empty) disk: something to publish and to build on
NOTE = "vmgui demo desktop pool"


@dataclass(frozen=True)
class DemoResult:
    golden_uuid: str
    golden_name: str
    version: int                    # the golden image version the desktops build on
    desktops: tuple[Desktop, ...]
    user: str                       # who has the first desktop
    made: tuple[str, ...]           # what this run did, in order; empty when everything was there already

    @property
    def mine(self) -> Desktop | None:
        return next((d for d in self.desktops if d.user == self.user), None)


class DemoCancelled(VmguiError):
    """The user cancelled; what this run had made was removed."""


@dataclass
class _Made:
    """What one build_demo run made, so that a failure or cancel removes exactly that."""

    storage_pool: bool = False
    volumes: list[str] = field(default_factory=list)
    golden_uuid: str | None = None                  # the golden guest, defined by this run
    version: tuple[str, int] | None = None          # (source uuid, number) published by this run
    pool_spec: tuple[str, str] | None = None        # (golden uuid, pool name) saved by this run
    desktops_before: frozenset[str] | None = None   # the pool's desktops before provisioning, once it began
    assigned: str | None = None                     # the desktop this run assigned
    steps: list[str] = field(default_factory=list)


def build_demo(conn: libvirt.virConnect, progress: Progress = lambda _step: None,
               cancel: threading.Event | None = None, *, names: DemoNames = DEFAULT_NAMES,
               cache_dir: Path | None = None, user: str | None = None) -> DemoResult:
    """Make whatever of the demo pool is missing (see the module's docstring); what it is now.

    `cache_dir` is where the tiny guest is cached (default ~/.cache/vmgui/tiny-guest); `user` gets the first
    desktop (default: the local user). Raises DemoCancelled when `cancel` is set, VmguiError on failure; both
    after removing what this run made.
    """
    cancel = cancel or threading.Event()
    made = _Made()
    try:
        return _build(conn, progress, cancel, names, cache_dir, user or getpass.getuser(), made)
    except BaseException as err:
        if made.steps:
            progress("Removing what was made…")
        _undo(conn, names, made)
        if isinstance(err, BuildCancelled | DemoCancelled):
            raise DemoCancelled("Cancelled: nothing of this run was left behind.") from err
        if isinstance(err, BuildError):
            raise VmguiError(f"The tiny Linux guest could not be built: {err}") from err
        if isinstance(err, libvirt.libvirtError):
            raise VmguiError(describe(err, "make the demo desktop pool")) from err
        raise


def remove_demo(conn: libvirt.virConnect, progress: Progress = lambda _step: None, *,
                names: DemoNames = DEFAULT_NAMES) -> list[str]:
    """Remove the demo pool (also desktops someone is assigned to), the golden image's versions, the golden
    guest with its disk, and the kernel and initramfs volumes; what was removed (empty: nothing was there).
    The storage pool stays: other guests may use it."""
    removed: list[str] = []
    golden_dom = _domain(conn, names.golden)
    if golden_dom is not None:
        for spec in read_pools(conn):
            if spec.name == names.pool and spec.golden_uuid == golden_dom.UUIDString():
                progress(f"Removing the desktop pool '{names.pool}' and its desktops…")
                removed += pools.remove_pool(conn, names.pool, assigned_too=True)
    for desktop in desk.desktops(conn, names.pool):  # desktops whose pool definition is gone
        progress(f"Removing {desktop.name}…")
        delete_guest(conn, desktop.uuid, [desktop.disk])
        removed.append(desktop.name)
    if golden_dom is not None:
        image = golden.read_golden(golden_dom)
        for version in image.versions if image else ():
            progress(f"Removing {names.golden}'s golden image {version.label}…")
            golden.retire(conn, golden_dom.UUIDString(), version.number)
            removed.append(f"{names.golden} {version.label}")
        progress(f"Removing the guest {names.golden} and its disk…")
        paths = [d.path for d in disks_of(conn, golden_dom) if not d.protected]
        delete_guest(conn, golden_dom.UUIDString(), paths)
        removed.append(names.golden)
    for volume_name in (names.disk, names.kernel, names.initrd):
        volume = _volume(conn, names.storage_pool, volume_name)
        if volume is not None:
            progress(f"Removing {volume_name}…")
            storage.delete_volume(conn, volume.path)
            removed.append(volume_name)
    return removed


def demo_present(conn: libvirt.virConnect, names: DemoNames = DEFAULT_NAMES) -> bool:
    """Whether any part of the demo's guests is on the host (its golden guest or a desktop of its pool)."""
    return _domain(conn, names.golden) is not None or bool(desk.desktops(conn, names.pool))


# ---- the build, step by step ------------------------------------------------------------------------


def _build(conn: libvirt.virConnect, progress: Progress, cancel: threading.Event, names: DemoNames,
           cache_dir: Path | None, user: str, made: _Made) -> DemoResult:
    def check() -> None:
        if cancel.is_set():
            raise DemoCancelled("cancelled")

    def step(text: str) -> None:
        check()
        progress(text)

    check()
    _ensure_storage_pool(conn, names, made, step)
    kernel = _volume(conn, names.storage_pool, names.kernel)
    initrd = _volume(conn, names.storage_pool, names.initrd)
    if kernel is None or initrd is None:
        step("Building the tiny Linux guest from Debian packages (the first time downloads Debian's kernel, "
             "about 70 MB)…")
        files = ensure_tiny_guest(cache_dir, progress=progress, cancel=cancel)
        for there, name, path in ((kernel, names.kernel, files.kernel), (initrd, names.initrd, files.initrd)):
            if there is None:
                step(f"Copying {path.name} into the storage pool '{names.storage_pool}'…")
                volume = storage.upload_file(conn, names.storage_pool, name, str(path))
                made.volumes.append(volume.path)
                made.steps.append(f"uploaded {name}")
        kernel = _volume(conn, names.storage_pool, names.kernel)
        initrd = _volume(conn, names.storage_pool, names.initrd)
    golden_dom = _domain(conn, names.golden)
    if golden_dom is None:
        assert kernel is not None and initrd is not None
        step(f"Defining the golden guest {names.golden}…")
        golden_dom = _define_golden(conn, names, kernel.path, initrd.path, made)
    uuid = golden_dom.UUIDString()

    image = golden.read_golden(golden_dom)
    version = image.latest if image else None
    if version is None:
        step(f"Publishing {names.golden} as golden image v1…")
        version = golden.publish(conn, uuid, NOTE)
        made.version = (uuid, version.number)
        made.steps.append(f"published {names.golden} {version.label}")

    spec = next((p for p in read_pools(conn) if p.name == names.pool), None)
    if spec is None:
        step(f"Saving the desktop pool '{names.pool}' ({SIZE} desktops)…")
        save_pool(conn, PoolSpec(names.pool, uuid, SIZE, names.pattern))
        made.pool_spec = (uuid, names.pool)
        made.steps.append(f"saved the pool {names.pool}")
    elif spec.golden_uuid != uuid:
        raise VmguiError(f"There is already a desktop pool named '{names.pool}' on another golden image.")
    size = find_pool(conn, names.pool).size

    before = frozenset(d.uuid for d in desk.desktops(conn, names.pool))
    if len(before) < size:
        step(f"Making the desktops ({size - len(before)} linked clones of {names.golden} {version.label})…")
        made.desktops_before = before
        have = pools.provision(conn, names.pool)
        made.steps += [f"made {d.name}" for d in have if d.uuid not in before]
    else:
        have = desk.desktops(conn, names.pool)

    if have and not any(d.user == user for d in have):
        free = next((d for d in have if d.user is None), None)
        if free is not None:
            step(f"Assigning {free.name} to you ({user})…")
            desk.assign(conn, free.uuid, user)
            made.assigned = free.uuid
            made.steps.append(f"assigned {free.name} to {user}")
    return DemoResult(uuid, names.golden, version.number, tuple(desk.desktops(conn, names.pool)), user,
                      tuple(made.steps))


def _ensure_storage_pool(conn: libvirt.virConnect, names: DemoNames, made: _Made, step: Progress) -> None:
    try:
        pool = conn.storagePoolLookupByName(names.storage_pool)
    except libvirt.libvirtError:
        if names.storage_pool != storage.DEFAULT_POOL:
            raise VmguiError(f"There is no storage pool named '{names.storage_pool}' on this host.") from None
        path = storage.default_pool_path(session=_is_session(conn))
        step(f"Creating the storage pool '{storage.DEFAULT_POOL}' in {path}…")
        storage.create_default_pool(conn, path)
        made.storage_pool = True
        made.steps.append(f"created the storage pool {storage.DEFAULT_POOL}")
        return
    if not pool.isActive():
        step(f"Starting the storage pool '{names.storage_pool}'…")
        pool.create(0)


def _define_golden(conn: libvirt.virConnect, names: DemoNames, kernel: str, initrd: str,
                   made: _Made) -> libvirt.virDomain:
    disk = _volume(conn, names.storage_pool, names.disk)
    if disk is None:
        disk = storage.create_volume(conn, names.storage_pool, names.disk, DISK_BYTES)
        made.volumes.append(disk.path)
        made.steps.append(f"created {names.disk}")
    kvm = read_host_caps(conn, "x86_64").has_kvm
    xml = golden_xml(names.golden, kernel, initrd, disk.path, kvm=kvm, serial_log=_serial_log(conn, names.golden))
    try:
        dom = conn.defineXML(xml)
    except libvirt.libvirtError as err:
        raise VmguiError(f"libvirt did not accept the demo guest's XML: {err.get_error_message()}") from err
    made.golden_uuid = dom.UUIDString()
    made.steps.append(f"defined {names.golden}")
    return dom


def golden_xml(name: str, kernel: str, initrd: str, disk: str, *, kvm: bool, serial_log: str | None) -> str:
    """The demo's golden guest: the tiny guest's kernel and initramfs booted directly, a small qcow2 disk,
    VNC on 127.0.0.1 and a serial console (logged to `serial_log` when given)."""
    domain = ET.Element("domain", type="kvm" if kvm else "qemu")
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "memory", unit="MiB").text = str(MEMORY_MIB)
    ET.SubElement(domain, "currentMemory", unit="MiB").text = str(MEMORY_MIB)
    ET.SubElement(domain, "vcpu").text = "1"
    os_el = ET.SubElement(domain, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "kernel").text = kernel
    ET.SubElement(os_el, "initrd").text = initrd
    ET.SubElement(os_el, "cmdline").text = KERNEL_CMDLINE
    features = ET.SubElement(domain, "features")
    ET.SubElement(features, "acpi")  # the power button: Shut Down works
    ET.SubElement(features, "apic")
    ET.SubElement(domain, "clock", offset="utc")
    ET.SubElement(domain, "on_poweroff").text = "destroy"
    ET.SubElement(domain, "on_reboot").text = "restart"
    ET.SubElement(domain, "on_crash").text = "destroy"
    devices = ET.SubElement(domain, "devices")
    disk_el = ET.SubElement(devices, "disk", type="file", device="disk")
    ET.SubElement(disk_el, "driver", name="qemu", type="qcow2")
    ET.SubElement(disk_el, "source", file=disk)
    ET.SubElement(disk_el, "target", dev="vda", bus="virtio")
    serial = ET.SubElement(devices, "serial", type="pty")
    if serial_log is not None:
        ET.SubElement(serial, "log", file=serial_log, append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    graphics = ET.SubElement(devices, "graphics", type="vnc", port="-1", autoport="yes", listen="127.0.0.1")
    ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
    video = ET.SubElement(devices, "video")
    # Standard VGA has the VBE mode that `vga=0x318` asks the kernel's vesafb for (1024x768).
    ET.SubElement(video, "model", type="vga", vram="16384", heads="1", primary="yes")
    ET.SubElement(devices, "memballoon", model="none")
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


# ---- undoing a failed or cancelled run ----------------------------------------------------------------


def _undo(conn: libvirt.virConnect, names: DemoNames, made: _Made) -> None:
    """Remove what this run made, newest first; log (never raise) what cannot be removed."""
    def attempt(what: str, work: Callable[[], object]) -> None:
        try:
            work()
        except (libvirt.libvirtError, VmguiError) as err:
            log.error("demo: could not remove %s: %s", what, err)

    if made.assigned is not None and made.desktops_before is not None and made.assigned in made.desktops_before:
        uuid = made.assigned
        attempt("the assignment", lambda: desk.assign(conn, uuid, None))
    if made.desktops_before is not None:
        before = made.desktops_before
        for desktop in desk.desktops(conn, names.pool):
            if desktop.uuid not in before:
                attempt(desktop.name, functools.partial(delete_guest, conn, desktop.uuid, [desktop.disk]))
    if made.pool_spec is not None:
        attempt(f"the pool {names.pool}", lambda: pools.remove_pool(conn, names.pool, assigned_too=True))
    if made.version is not None:
        source, number = made.version
        attempt(f"golden image v{number}", lambda: golden.retire(conn, source, number))
    if made.golden_uuid is not None:
        golden_uuid = made.golden_uuid
        attempt(names.golden, lambda: undefine(conn.lookupByUUIDString(golden_uuid)))
    for path in reversed(made.volumes):
        attempt(path, functools.partial(storage.delete_volume, conn, path))
    if made.storage_pool:
        attempt(f"the storage pool {storage.DEFAULT_POOL}", lambda: _remove_empty_pool(conn, storage.DEFAULT_POOL))


def _remove_empty_pool(conn: libvirt.virConnect, name: str) -> None:
    pool = conn.storagePoolLookupByName(name)
    if pool.isActive() and pool.listAllVolumes(0):
        return  # something else went in meanwhile: it stays
    if pool.isActive():
        pool.destroy()
    pool.undefine()


# ---- helpers ------------------------------------------------------------------------------------------


def _domain(conn: libvirt.virConnect, name: str) -> libvirt.virDomain | None:
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return None
        raise


def _volume(conn: libvirt.virConnect, pool_name: str, name: str) -> storage.VolumeInfo | None:
    try:
        path = conn.storagePoolLookupByName(pool_name).storageVolLookupByName(name).path()
    except libvirt.libvirtError:
        return None
    return storage.find_volume(conn, path)


def _uri_parts(conn: libvirt.virConnect) -> urllib.parse.SplitResult:
    return urllib.parse.urlsplit(str(conn.getURI()))


def _is_session(conn: libvirt.virConnect) -> bool:
    return _uri_parts(conn).path.rstrip("/") == "/session"


def _serial_log(conn: libvirt.virConnect, name: str) -> str | None:
    """Where the guest's serial output is logged (libvirt's own log directory), or None where unknown."""
    parts = _uri_parts(conn)
    if parts.scheme.split("+")[0] != "qemu":
        return None
    if parts.path.rstrip("/") == "/system":
        return f"/var/log/libvirt/qemu/{name}-serial.log"
    directory = os.path.expanduser("~/.cache/libvirt/qemu/log")
    if not parts.hostname and os.path.isdir(directory):  # a local session daemon
        return f"{directory}/{name}-serial.log"
    return None

