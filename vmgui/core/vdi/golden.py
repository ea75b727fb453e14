"""Golden images: a shut-off guest's disk published as read-only, numbered versions (v1, v2...) (blocking).

A version is a full copy of the source guest's first disk, in the same pool, file mode 0444, named
"<guest>-golden-v<N>.<format>". The list of versions (number, path, date, note) lives in the source
guest's vmgui metadata, so every vmgui sees it; the source guest stays a normal guest that can be
changed and published again. Desktops are linked clones whose disks build on a version's file: a
version is in use while any volume builds on it, and then it cannot be retired.
"""

from __future__ import annotations

import datetime
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt

from vmgui.core import metadata, storage
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import backing_files

PART = "golden"
REPLICA = "replica"  # on another host's copy of a golden image: which image it copies


@dataclass(frozen=True)
class GoldenVersion:
    number: int
    path: str
    created: str    # ISO 8601, UTC
    note: str

    @property
    def label(self) -> str:
        return f"v{self.number}"


@dataclass(frozen=True)
class GoldenImage:
    source_uuid: str
    name: str                              # the source guest's name
    versions: tuple[GoldenVersion, ...]    # oldest first

    @property
    def latest(self) -> GoldenVersion | None:
        return self.versions[-1] if self.versions else None


def read_golden(dom: libvirt.virDomain) -> GoldenImage | None:
    """The golden image a guest is the source of, or None."""
    part = metadata.read_part(dom, PART)
    if part is None:
        return None
    versions = tuple(sorted((GoldenVersion(int(v.get("n", "0")), v.get("path", ""), v.get("created", ""),
                                           v.get("note", "")) for v in part.findall("version")),
                            key=lambda v: v.number))
    return GoldenImage(dom.UUIDString(), dom.name(), versions)


def golden_images(conn: libvirt.virConnect) -> list[GoldenImage]:
    """Every golden image on the host, by name."""
    return sorted(metadata.read_each(conn, read_golden), key=lambda g: g.name)


def publish(conn: libvirt.virConnect, source_uuid: str, note: str = "") -> GoldenVersion:
    """Publish the shut-off guest's first disk as the next version of its golden image."""
    dom = conn.lookupByUUIDString(source_uuid)
    if replica_of(dom):
        raise VmguiError(f"{dom.name()} is a copy of a golden image from another host: publish new versions "
                         "there and copy them here.")
    if dom.isActive():
        raise VmguiError(f"Shut {dom.name()} down first: a golden image is published from a shut-off guest, "
                         "so that its disk is consistent.")
    disks = [d for d in DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).disks
             if (d.device or "disk") == "disk" and d.source_path]
    if not disks:
        raise VmguiError(f"{dom.name()} has no disk to publish.")
    path = disks[0].source_path
    assert path is not None
    volume = storage.find_volume(conn, path)
    if volume is None:
        raise VmguiError(f"{path} is in no storage pool, so vmgui cannot copy it.")
    current = read_golden(dom)
    number = max(_next_number(dom), (current.latest.number if current and current.latest else 0) + 1)
    ext = "img" if volume.format == "raw" else volume.format or "img"
    copy = storage.copy_volume(conn, volume, f"{dom.name()}-golden-v{number}.{ext}", read_only=True)
    version = GoldenVersion(number, copy.path, datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                            note)
    try:
        _write(dom, (*(current.versions if current else ()), version))
    except BaseException:
        storage.delete_volume(conn, copy.path)
        raise
    return version


def record_version(dom: libvirt.virDomain, version: GoldenVersion) -> None:
    """Add a version made elsewhere (a copy from another host) to the guest's golden image."""
    current = read_golden(dom)
    kept = tuple(v for v in (current.versions if current else ()) if v.number != version.number)
    _write(dom, tuple(sorted((*kept, version), key=lambda v: v.number)))


def replica_of(dom: libvirt.virDomain) -> str:
    """For another host's copy of a golden image: the UUID of the image's source guest ("" otherwise)."""
    part = metadata.read_part(dom, REPLICA)
    return part.get("of", "") if part is not None else ""


def users(conn: libvirt.virConnect, version: GoldenVersion) -> list[str]:
    """The volumes that build on a version (the desktops' disks), by name."""
    return sorted(backing_files(conn).get(version.path, []))


def retire(conn: libvirt.virConnect, source_uuid: str, number: int) -> None:
    """Delete an unused version; refused, naming them, while desktops build on it."""
    dom = conn.lookupByUUIDString(source_uuid)
    image = read_golden(dom)
    version = next((v for v in image.versions if v.number == number), None) if image else None
    if image is None or version is None:
        raise VmguiError(f"{dom.name()} has no golden image version v{number}.")
    using = users(conn, version)
    if using:
        raise VmguiError(f"v{number} of {dom.name()} is in use by {', '.join(using)}: it cannot be retired until "
                         "they are moved to another version or removed.")
    storage.delete_volume(conn, version.path)
    _write(dom, tuple(v for v in image.versions if v.number != number))


def _next_number(dom: libvirt.virDomain) -> int:
    """Version numbers are never reused, even after the newest version was retired."""
    part = metadata.read_part(dom, PART)
    return int(part.get("next", "1")) if part is not None else 1


def _write(dom: libvirt.virDomain, versions: tuple[GoldenVersion, ...]) -> None:
    next_number = max(_next_number(dom), max((v.number for v in versions), default=0) + 1)
    part = ET.Element(PART, next=str(next_number))
    for v in versions:
        ET.SubElement(part, "version", n=str(v.number), path=v.path, created=v.created, note=v.note)
    metadata.write_part(dom, PART, part)
