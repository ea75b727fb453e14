"""Cloning a guest as one all-or-nothing job: per disk a full copy, a linked clone or a shared disk.

A linked clone's disk is a new qcow2 image whose backing file is the source disk, so it is made in
a moment and holds only what the clone changes. The source disk must then never change again: the
source guest has to be shut off, and either its disk is protected (the source guest gets an overlay of
its own, so the old file becomes a read-only base) or the source guest is not started again. A running
guest's disk can be made a base first (`clone_base.make_base`): linked clones then build on the file it
ran on until then, passed here as one of `bases` or read from the guest's metadata (`base_record`).
Everything here is blocking; run it in a worker thread.
"""

from __future__ import annotations

import datetime
import logging
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

import libvirt

from vmgui.core import storage
from vmgui.core.base_record import record_bases, recorded_bases
from vmgui.core.domain_xml import Disk, DomainXml, Graphics, Interface
from vmgui.core.errors import VmguiError
from vmgui.core.guest_creator import CreatedGuest, CreationCancelled, remove_half_made
from vmgui.core.new_guest import free_name, name_problem

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
NEEDS_SHUTOFF = "a linked clone needs the source shut off, or its disk made a base"


class DiskMode(Enum):
    COPY = "copy"      # a full copy through the storage API (sparse where the pool allows)
    LINK = "link"      # a qcow2 overlay on the source disk
    SHARE = "share"    # the clone uses the same file (CD-ROMs, read-only or shareable disks)

    @property
    def label(self) -> str:
        return {DiskMode.COPY: "Copy", DiskMode.LINK: "Linked clone", DiskMode.SHARE: "Share"}[self]


@dataclass(frozen=True)
class CloneDisk:
    """One disk of the source guest and what cloning can do with it."""

    target: str                  # vda
    device: str                  # disk, cdrom, floppy
    path: str | None             # None: an empty drive
    format: str | None           # qcow2, raw
    volume: storage.VolumeInfo | None  # the pool volume behind it; None: not in a pool
    readonly: bool
    shareable: bool
    modes: tuple[DiskMode, ...]  # what is possible, the default first
    why: str                     # why some modes are missing ("" when all are possible)
    base: storage.VolumeInfo | None = None  # a running guest's read-only base, linked clones build on it
    base_made: datetime.datetime | None = None  # when `base` became one, as recorded (None: not recorded)

    @property
    def default(self) -> DiskMode:
        return self.modes[0]

    @property
    def link_to(self) -> storage.VolumeInfo | None:
        """What a linked clone of this disk builds on: the base made of a running guest's disk, else the disk."""
        return self.base or self.volume


def inspect_disks(conn: libvirt.virConnect, dom: libvirt.virDomain, bases: Collection[str] = ()) -> list[CloneDisk]:
    """The source guest's disks with the modes each allows (blocking). A running guest's disk can be linked
    when it runs on a qcow2 overlay (in the live and the saved definition) whose backing file is one of `bases`
    or the base recorded for that disk (`base_record`); a record that no longer holds is ignored."""
    xml = DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    running = bool(dom.isActive())
    recorded = recorded_bases(dom) if running else {}
    live = {d.target_dev: d for d in DomainXml(dom.XMLDesc(0)).disks} if running and (bases or recorded) else {}
    pools = {p.name: p for p in storage.list_pools(conn)}  # their types only: no refresh (a scan) per disk
    result = []
    for disk in xml.disks:
        path = disk.source_path
        device = disk.device or "disk"
        volume = storage.find_volume(conn, path) if path else None
        if device != "disk" or path is None or disk.readonly or disk.shareable:
            why = ("CD-ROMs and floppies are shared" if device != "disk" else "an empty drive is shared"
                   if path is None else "read-only and shareable disks are shared")
            result.append(CloneDisk(disk.target_dev or "", device, path, disk.driver_type, volume, disk.readonly,
                                    disk.shareable, (DiskMode.SHARE,), why))
            continue
        if volume is None:
            result.append(CloneDisk(disk.target_dev or "", device, path, disk.driver_type, None, False, False,
                                    (DiskMode.SHARE,), "the disk is in no storage pool, so vmgui cannot copy it"))
            continue
        modes = [DiskMode.COPY]
        why = ""
        base = None
        made = None
        pool = pools[volume.pool]
        if not pool.holds_files:
            why = f"the pool '{pool.name}' ({pool.type}) cannot hold qcow2 overlays"
        elif running:
            record = recorded.get(disk.target_dev or "")
            on = {*bases, record.path} if record is not None else set(bases)
            base = _base_of(conn, volume, (disk, live.get(disk.target_dev)), on)
            if base is None:
                why = NEEDS_SHUTOFF
            else:
                modes.append(DiskMode.LINK)
                made = record.made if record is not None and record.path == base.path else None
        else:
            modes.append(DiskMode.LINK)
        modes.append(DiskMode.SHARE)
        result.append(CloneDisk(disk.target_dev or "", device, path, disk.driver_type or volume.format, volume,
                                False, False, tuple(modes), why, base, made))
    return result


def _base_of(conn: libvirt.virConnect, volume: storage.VolumeInfo, disks: tuple[Disk, Disk | None],
             bases: Collection[str]) -> storage.VolumeInfo | None:
    """The base a running guest's disk `volume` builds on, when it is one of `bases` and the guest runs on
    `volume` as a qcow2 overlay in both its saved and live definitions `disks` (so it never writes the base)."""
    saved, live = disks
    if not bases or live is None or live.source_path != volume.path:
        return None
    if saved.driver_type != "qcow2" or live.driver_type != "qcow2":
        return None
    backing = backing_file(conn, volume.path)
    return storage.find_volume(conn, backing) if backing is not None and backing in bases else None


def clone_choices(conn: libvirt.virConnect, uuid: str, bases: Collection[str] = ()) -> tuple[list[CloneDisk], set[str]]:
    """The source guest's disks (what each allows) and the names taken on the host, for the Clone dialog."""
    return inspect_disks(conn, conn.lookupByUUIDString(uuid), bases), {d.name() for d in conn.listAllDomains(0)}


def suggest_name(source: str, taken: set[str]) -> str:
    """"web-clone", else "web-clone-2", "web-clone-3"..."""
    return free_name(f"{source}-clone", taken)


def names_from_pattern(pattern: str, count: int, taken: set[str], start: int = 1) -> list[str]:
    """Names for a batch of clones: "desk-{n:03}" gives desk-001, desk-002..., skipping taken ones."""
    if "{n" not in pattern:
        raise VmguiError("The name pattern needs {n} (or {n:03}) where the number goes.")
    names: list[str] = []
    n = start
    while len(names) < count:
        try:
            name = pattern.format(n=n)
        except (ValueError, KeyError, IndexError) as err:
            raise VmguiError(f"The name pattern '{pattern}' is not valid: {err}.") from err
        if name not in taken and name not in names:
            problem = name_problem(name, set())
            if problem:
                raise VmguiError(f"'{name}': {problem}")
            names.append(name)
        n += 1
    return names


def clone_domain_xml(source_xml: str, name: str, new_paths: Mapping[str, str], nvram: str | None = None) -> DomainXml:
    """The clone's XML: a new name, no UUID or MACs (libvirt makes new ones), automatic display ports,
    the disks of `new_paths` (target -> path), and `nvram` as its UEFI variables file (None: libvirt
    makes a fresh one from the firmware's template)."""
    dom = DomainXml(source_xml)
    dom.name = name
    dom.uuid = None
    if "id" in dom.element.attrib:
        del dom.element.attrib["id"]
    for element in dom.element.findall("os/nvram"):
        if nvram is None:
            element.getparent().remove(element)  # type: ignore[union-attr]
        else:
            element.text = nvram
    for nic in dom.devices(Interface):
        mac = nic.find("mac")
        if mac is not None:
            nic.element.remove(mac)
        target = nic.find("target")  # tap device names belong to the source
        if target is not None:
            nic.element.remove(target)
    for graphics in dom.devices(Graphics):
        for attr in ("port", "tlsPort", "websocket"):
            if attr in graphics.element.attrib:
                del graphics.element.attrib[attr]
        if graphics.type in ("vnc", "spice"):
            graphics.autoport = True
    old_name = DomainXml(source_xml).name or ""
    for log_el in [*dom.element.findall("devices/*/log"), *dom.element.findall("devices/serial[@type='file']/source")]:
        attr = "file" if log_el.tag == "log" else "path"
        if log_el.get(attr):
            log_el.set(attr, _own_path(log_el.get(attr, ""), old_name, name))  # not the source's log file
    for channel in dom.element.findall("devices/channel[@type='unix']/source"):
        if "path" in channel.attrib:
            del channel.attrib["path"]  # libvirt picks a path of the clone's own
    for disk in dom.disks:
        if disk.target_dev is not None and disk.target_dev in new_paths:
            path = new_paths[disk.target_dev]
            disk.set_file(path)
            if path.endswith(".qcow2"):
                disk.driver_type = "qcow2"
            backing = disk.find("backingStore")
            if backing is not None:
                disk.element.remove(backing)
    return dom


def clone_guest(conn: libvirt.virConnect, source_uuid: str, name: str, modes: Mapping[str, DiskMode], *,
                protect_base: bool = False, progress: Progress = lambda _step: None,
                cancel: threading.Event | None = None, bases: Collection[str] = ()) -> CreatedGuest:
    """Clone the guest `source_uuid` as `name` (blocking); disks by target as `modes` says (default each).

    `protect_base`: for linked disks, give the source guest an overlay of its own too, so the file both
    now build on is never written again. `bases`: read-only bases made of a running source's disks
    (`clone_base.make_base`), which its linked disks build on. On failure or cancel, everything made is
    removed (and the source guest's disks are put back).
    """
    cancel = cancel or threading.Event()
    made: list[str] = []
    source = conn.lookupByUUIDString(source_uuid)
    source_xml = source.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
    source_changed = False
    dom: libvirt.virDomain | None = None

    def check() -> None:
        if cancel.is_set():
            raise CreationCancelled("Cancelled: nothing was left behind.")

    try:
        problem = name_problem(name, {d.name() for d in conn.listAllDomains(0)})
        if problem:
            raise VmguiError(problem)
        disks = inspect_disks(conn, source, bases)
        new_paths: dict[str, str] = {}
        linked: list[str] = []
        for disk in disks:
            mode = modes.get(disk.target, disk.default)
            if mode not in disk.modes:
                raise VmguiError(f"{disk.target}: {mode.label.lower()} is not possible ({disk.why}).")
            if mode is DiskMode.SHARE:
                continue
            assert disk.volume is not None and disk.path is not None
            check()
            if mode is DiskMode.COPY:
                label = f"Copying {disk.target} ({disk.volume.capacity / storage.GIB:.1f} GiB)"
                progress(f"{label}…")

                def copied(done: float, label: str = label) -> None:
                    progress(f"{label}: {done:.0%}")
                copy = storage.copy_volume(conn, disk.volume, _volume_name(name, disk), copied)
                made.append(copy.path)
                new_paths[disk.target] = copy.path
            else:
                progress(f"Making a linked clone of {disk.target}…")
                assert disk.link_to is not None
                overlay = storage.create_overlay(conn, disk.link_to, _volume_name(name, disk, "qcow2"))
                made.append(overlay.path)
                new_paths[disk.target] = overlay.path
                if disk.base is None:  # a base made of a running source's disk is never written already
                    linked.append(disk.target)
        check()
        nvram = _copy_nvram(conn, source_xml, name, made)
        progress("Defining the clone…")
        clone = clone_domain_xml(source_xml, name, new_paths, nvram)
        try:
            dom = conn.defineXML(clone.to_xml())
        except libvirt.libvirtError as err:
            raise VmguiError(f"libvirt did not accept the clone's XML: {err.get_error_message()}") from err
        if protect_base and linked:
            progress("Protecting the base: the source guest gets its own overlay…")
            made += protect_source(conn, source_uuid, linked)
            source_changed = True
        check()
        return CreatedGuest(dom.UUIDString(), name, False)
    except BaseException:
        if source_changed:
            _restore(conn, source_xml)
        remove_half_made(conn, dom, reversed(made))
        raise


def protect_source(conn: libvirt.virConnect, source_uuid: str, targets: Iterable[str]) -> list[str]:
    """Give the shut-off source guest a qcow2 overlay of its own on each disk of `targets`, so the files its
    linked clones build on are never written again (blocking): the new overlays' paths. All or nothing. The old
    files are recorded as its disks' bases, so once it runs again, linked clones still build on them."""
    source = conn.lookupByUUIDString(source_uuid)
    if source.isActive():
        raise VmguiError(f"{source.name()} is running; its disks can be protected only while it is shut off.")
    source_xml = source.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
    disks = {d.target: d for d in inspect_disks(conn, source)}
    made: dict[str, str] = {}
    bases: dict[str, str] = {}
    try:
        for target in targets:
            volume = disks[target].volume
            if volume is None:
                raise VmguiError(f"{target} is in no storage pool, so vmgui cannot give it an overlay.")
            bases[target] = volume.path
            made[target] = storage.create_overlay(conn, volume, top_name(conn, source.name(), disks[target])).path
        source = conn.defineXML(repoint_disks(source_xml, made).to_xml())
    except BaseException:
        storage.remove_made_volumes(conn, made.values())
        raise
    record_bases(source, bases)  # once started again, its linked clones still build on them
    return list(made.values())


def _copy_nvram(conn: libvirt.virConnect, source_xml: str, name: str, made: list[str]) -> str | None:
    """A copy of the source's UEFI variables for the clone (boot entries, Secure Boot keys), when a pool
    holds them; None lets libvirt start the clone from the firmware's template."""
    path = DomainXml(source_xml).element.findtext("os/nvram")
    volume = storage.find_volume(conn, path.strip()) if path and path.strip() else None
    if volume is None:
        if path:
            log.info("%s: the NVRAM %s is in no pool; the clone gets fresh UEFI variables", name, path)
        return None
    copy = storage.copy_volume(conn, volume, f"{name}_VARS.fd")
    made.append(copy.path)
    return copy.path


def _own_path(path: str, old_name: str, new_name: str) -> str:
    """`path` with the source guest's name replaced by the clone's, or the clone's name added."""
    head, _, tail = path.rpartition("/")
    if old_name and old_name in tail:
        return f"{head}/{tail.replace(old_name, new_name)}"
    stem, dot, ext = tail.partition(".")
    return f"{head}/{stem}-{new_name}{dot}{ext}"


def repoint_disks(xml: str, paths: Mapping[str, str]) -> DomainXml:
    """The same guest with the disks of `paths` (target -> path) on new qcow2 files."""
    dom = DomainXml(xml)
    for disk in dom.disks:
        if disk.target_dev is not None and disk.target_dev in paths:
            disk.set_file(paths[disk.target_dev])
            disk.driver_type = "qcow2"
            backing = disk.find("backingStore")
            if backing is not None:
                disk.element.remove(backing)
    return dom


def _restore(conn: libvirt.virConnect, source_xml: str) -> None:
    try:
        conn.defineXML(source_xml)
    except libvirt.libvirtError as err:
        log.error("could not put the source guest's definition back: %s", err)


def top_name(conn: libvirt.virConnect, guest: str, disk: CloneDisk) -> str:
    """A free name for the source guest's own overlay on `disk`: "web-top-vda.qcow2", "web-top2-vda.qcow2"..."""
    assert disk.volume is not None
    for n in range(1, 1000):
        name = _volume_name(guest, disk, "qcow2", suffix=f"-top{n if n > 1 else ''}")
        if not storage.volume_exists(conn, disk.volume.pool, name):
            return name
    raise VmguiError(f"The storage pool '{disk.volume.pool}' has no free name left for an overlay of {disk.target}.")


def _volume_name(guest: str, disk: CloneDisk, fmt: str | None = None, *, suffix: str = "") -> str:
    """"web-clone-vda.qcow2": the guest, the disk's target, the format."""
    ext = fmt or (disk.volume.format if disk.volume is not None and disk.volume.format else "img")
    ext = "img" if ext == "raw" else ext
    return re.sub(r"[^\w.+-]", "_", f"{guest}{suffix}-{disk.target}.{ext}")


def backing_file(conn: libvirt.virConnect, path: str) -> str | None:
    """The backing file a volume builds on, as its pool reports it (blocking)."""
    vol = conn.storageVolLookupByPath(path)
    return ET.fromstring(vol.XMLDesc(0)).findtext("backingStore/path")
