"""A guest's snapshots: the tree, create, revert, delete, describe; and what the host cannot do, said why.

Everything here is blocking (run it in a worker). Internal snapshots keep disk and memory inside the
qcow2 images; external ones put new overlay files on the disks (disk-only, or with a memory file).
The refusals follow what virt-manager has learned: internal snapshots of UEFI guests need libvirt
10.9 (create) and 10.10 (revert, delete); reverting an external snapshot needs libvirt 9.9; a guest
with a raw disk can only have external snapshots.
"""

from __future__ import annotations

import datetime
import html
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import libvirt

from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.screenshot import take_screenshot

UEFI_INTERNAL_CREATE = 10_009_000   # libvirt 10.9.0
UEFI_INTERNAL_REVERT = 10_010_000   # libvirt 10.10.0
EXTERNAL_REVERT = 9_009_000         # libvirt 9.9.0


@dataclass(frozen=True)
class SnapshotInfo:
    name: str
    parent: str | None
    created: datetime.datetime
    description: str
    state: str              # the guest's state when taken: running, paused, shutoff, disk-snapshot
    current: bool
    external: bool          # disks (and memory) in overlay files rather than inside the images

    @property
    def with_memory(self) -> bool:
        """Reverting brings the guest back running or paused where it was."""
        return self.state in ("running", "paused")


def read_snapshots(dom: libvirt.virDomain) -> list[SnapshotInfo]:
    """Every snapshot of the guest, oldest first (parents before their children)."""
    result = []
    for snap in dom.listAllSnapshots(0):
        root = ET.fromstring(snap.getXMLDesc(0))
        disks = [d.get("snapshot") for d in root.findall("disks/disk")]
        memory = root.find("memory")
        external = "external" in disks or (memory is not None and memory.get("snapshot") == "external")
        result.append(SnapshotInfo(
            name=root.findtext("name", ""), parent=root.findtext("parent/name"),
            created=datetime.datetime.fromtimestamp(int(root.findtext("creationTime", "0")), tz=datetime.UTC),
            description=(root.findtext("description") or "").strip(), state=root.findtext("state", ""),
            current=bool(snap.isCurrent()), external=external))
    return sorted(result, key=lambda s: (s.created, s.name))


def children(snapshots: Iterable[SnapshotInfo], parent: str | None) -> list[SnapshotInfo]:
    """The snapshots whose parent is `parent` (None: the roots), oldest first."""
    return [s for s in snapshots if s.parent == parent]


def subtree(snapshots: list[SnapshotInfo], name: str) -> list[str]:
    """`name` and every snapshot below it."""
    found = [name]
    for child in children(snapshots, name):
        found += subtree(snapshots, child.name)
    return found


class SnapshotKind(Enum):
    INTERNAL = "internal"          # disks (and memory of a running guest) inside the qcow2 images
    EXTERNAL_MEMORY = "memory"     # overlay files on the disks and the running guest's memory in a file
    EXTERNAL_DISK = "disk"         # overlay files on the disks only (a running guest comes back as after a crash)

    @property
    def label(self) -> str:
        return {SnapshotKind.INTERNAL: "Internal (disks and memory inside the qcow2 images)",
                SnapshotKind.EXTERNAL_MEMORY: "External with memory (overlay files and a memory file)",
                SnapshotKind.EXTERNAL_DISK: "External, disks only (overlay files)"}[self]


def kind_problems(conn: libvirt.virConnect, dom: libvirt.virDomain) -> dict[SnapshotKind, str | None]:
    """Each kind of snapshot with why this host cannot take it of this guest now (None: it can)."""
    running = bool(dom.isActive())
    return {SnapshotKind.INTERNAL: create_problem(conn, dom, external=False),
            SnapshotKind.EXTERNAL_MEMORY: None if running else
            "A snapshot with memory needs the guest running (a shut-off guest has no memory to keep).",
            SnapshotKind.EXTERNAL_DISK: create_problem(conn, dom, external=True)}


def create_problem(conn: libvirt.virConnect, dom: libvirt.virDomain, *, external: bool) -> str | None:
    """Why this host cannot take this kind of snapshot of this guest, or None."""
    xml = DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    if external:
        return None
    if _uefi(xml) and conn.getLibVersion() < UEFI_INTERNAL_CREATE:
        return (f"Internal snapshots of UEFI guests need libvirt 10.9 (this host has "
                f"{_version(conn.getLibVersion())}); take an external snapshot instead.")
    raw = [d.target_dev for d in xml.disks if (d.device or "disk") == "disk" and d.driver_type not in (None, "qcow2")
           and not d.readonly]
    if raw:
        return (f"Internal snapshots need qcow2 disks, and {', '.join(filter(None, raw))} "
                f"{'is' if len(raw) == 1 else 'are'} not; take an external snapshot instead.")
    return None


def create_snapshot(conn: libvirt.virConnect, dom: libvirt.virDomain, name: str, description: str = "", *,
                    external: bool = False, disk_only: bool = False) -> SnapshotInfo:
    """Take a snapshot (internal by default; `external` puts overlays on the disks, `disk_only` leaves the
    memory out). VmguiError says why when the host or the guest cannot."""
    if not name.strip():
        raise VmguiError("The snapshot needs a name.")
    if any(s.name == name for s in read_snapshots(dom)):
        raise VmguiError(f"The guest already has a snapshot named '{name}'.")
    problem = create_problem(conn, dom, external=external)
    if problem:
        raise VmguiError(problem)
    body = f"<name>{html.escape(name)}</name><description>{html.escape(description)}</description>"
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
    if external:
        xml = DomainXml(dom.XMLDesc(0))
        disks = [d for d in xml.disks if (d.device or "disk") == "disk" and d.target_dev]
        first = next((d.source_path for d in disks if d.source_path), None)
        if disk_only or not dom.isActive() or first is None:
            flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY
        else:  # the memory goes to a file beside the first disk
            memory = f"{first.rsplit('/', 1)[0]}/{xml.name}-{name}.mem"
            body += f"<memory snapshot='external' file='{html.escape(memory)}'/>"
        body += "<disks>" + "".join(f"<disk name='{d.target_dev}' snapshot='external'/>" for d in disks) + "</disks>"
    try:
        dom.snapshotCreateXML(f"<domainsnapshot>{body}</domainsnapshot>", flags)
    except libvirt.libvirtError as err:
        raise VmguiError(f"The snapshot could not be taken: {err.get_error_message()}") from err
    return next(s for s in read_snapshots(dom) if s.name == name)


def take(conn: libvirt.virConnect, uuid: str, name: str, description: str = "", *,
         kind: SnapshotKind = SnapshotKind.INTERNAL) -> tuple[SnapshotInfo, bytes | None]:
    """Take a snapshot of the guest and, when it runs, its screen at that moment (PNG or PPM bytes, for a
    thumbnail; None without a display)."""
    dom = conn.lookupByUUIDString(uuid)
    screen = None
    if dom.isActive():
        try:
            screen = take_screenshot(conn, uuid)[1]
        except (libvirt.libvirtError, ValueError):
            screen = None
    if kind is SnapshotKind.EXTERNAL_MEMORY and not dom.isActive():
        raise VmguiError(kind_problems(conn, dom)[kind] or "")
    return create_snapshot(conn, dom, name, description, external=kind is not SnapshotKind.INTERNAL,
                           disk_only=kind is SnapshotKind.EXTERNAL_DISK), screen


def revert_problem(conn: libvirt.virConnect, dom: libvirt.virDomain, snapshot: SnapshotInfo) -> str | None:
    """Why this host cannot revert to this snapshot, or None."""
    version = conn.getLibVersion()
    if snapshot.external and version < EXTERNAL_REVERT:
        return (f"Reverting to an external snapshot needs libvirt 9.9 (this host has {_version(version)}).")
    if not snapshot.external and _uefi(DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))) \
            and version < UEFI_INTERNAL_REVERT:
        return f"Reverting internal snapshots of UEFI guests needs libvirt 10.10 (this host has {_version(version)})."
    return None


def revert(conn: libvirt.virConnect, dom: libvirt.virDomain, name: str) -> None:
    """Bring the guest back to the snapshot, in the state it had then (running, paused or shut off)."""
    snapshot = _find(dom, name)
    problem = revert_problem(conn, dom, snapshot)
    if problem:
        raise VmguiError(problem)
    flags = {"running": libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING,
             "paused": libvirt.VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED}.get(snapshot.state, 0)
    try:
        dom.revertToSnapshot(dom.snapshotLookupByName(name, 0), flags)
    except libvirt.libvirtError as err:
        raise VmguiError(f"Could not revert to '{name}': {err.get_error_message()}") from err


def delete(conn: libvirt.virConnect, dom: libvirt.virDomain, name: str, *, with_children: bool = False) -> None:
    """Delete a snapshot (its children are kept and move up) or, `with_children`, its whole subtree."""
    snapshot = _find(dom, name)
    if not snapshot.external and _uefi(DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))) \
            and conn.getLibVersion() < UEFI_INTERNAL_REVERT:
        raise VmguiError("Deleting internal snapshots of UEFI guests needs libvirt 10.10 "
                         f"(this host has {_version(conn.getLibVersion())}).")
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN if with_children else 0
    try:
        dom.snapshotLookupByName(name, 0).delete(flags)
    except libvirt.libvirtError as err:
        raise VmguiError(f"Could not delete '{name}': {err.get_error_message()}") from err


def set_description(dom: libvirt.virDomain, name: str, description: str) -> None:
    """Change a snapshot's description (libvirt redefines its metadata; disks and memory are untouched)."""
    snap = dom.snapshotLookupByName(name, 0)
    root = ET.fromstring(snap.getXMLDesc(libvirt.VIR_DOMAIN_SNAPSHOT_XML_SECURE))
    element = root.find("description")
    if element is None:
        element = ET.Element("description")
        root.insert(1, element)
    element.text = description
    flags = libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE
    if snap.isCurrent():
        flags |= libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT
    try:
        dom.snapshotCreateXML(ET.tostring(root, encoding="unicode"), flags)
    except libvirt.libvirtError as err:
        raise VmguiError(f"Could not change the description of '{name}': {err.get_error_message()}") from err


def _find(dom: libvirt.virDomain, name: str) -> SnapshotInfo:
    for snapshot in read_snapshots(dom):
        if snapshot.name == name:
            return snapshot
    raise VmguiError(f"The guest has no snapshot named '{name}' (it may have been deleted elsewhere).")


def _uefi(xml: DomainXml) -> bool:
    loader = xml.find("os/loader")
    return xml.firmware == "efi" or (loader is not None and loader.get("type") == "pflash")


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"
