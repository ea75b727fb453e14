"""What a domain's vmgui metadata says about its part in VDI: a pool desktop (pool, version, user) or a golden image."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from vmgui.core import metadata

DESKTOP = "desktop"
GOLDEN = "golden"
POOLS = "pools"


@dataclass(frozen=True)
class DesktopMark:
    """A pool desktop's record, as kept in its own metadata."""

    pool: str
    version: int       # the golden image version its overlay builds on
    user: str | None   # the user it is assigned to
    disk: str          # its overlay
    golden: str = ""   # the UUID of the golden image's source guest, where its pool is defined
    links: tuple[str, ...] = ()  # linked copies made on its overlay (their disks): they block a reset


def mark_from_part(part: ET.Element | None) -> DesktopMark | None:
    """The desktop record from the <desktop> part (namespace-free, as metadata.read_part gives it)."""
    if part is None or not part.get("pool"):
        return None
    try:
        version = int(part.get("version", "0"))
    except ValueError:
        version = 0
    return DesktopMark(part.get("pool", ""), version, part.get("user") or None, part.get("disk", ""),
                       part.get("golden", ""), tuple(part.get("links", "").split("|")) if part.get("links") else ())


def part_from_mark(mark: DesktopMark) -> ET.Element:
    attrs = {"pool": mark.pool, "version": str(mark.version), "disk": mark.disk}
    if mark.user:
        attrs["user"] = mark.user
    if mark.golden:
        attrs["golden"] = mark.golden
    if mark.links:
        attrs["links"] = "|".join(mark.links)
    return ET.Element(DESKTOP, attrs)


def desktop_mark(domain_root: ET.Element) -> DesktopMark | None:
    """The desktop record inside a parsed domain XML, if the domain is a pool desktop."""
    element = metadata.guest_element(domain_root)
    if element is None:
        return None
    part = element.find(f"{{{metadata.NAMESPACE}}}{DESKTOP}")
    if part is None:
        return None
    plain = ET.Element(DESKTOP, dict(part.attrib))
    return mark_from_part(plain)


def golden_stamp(domain_root: ET.Element) -> str:
    """For the source of a golden image, its versions and pools as text (so a change to them is a change
    to the guest); "" for any other domain."""
    element = metadata.guest_element(domain_root)
    if element is None or element.find(f"{{{metadata.NAMESPACE}}}{GOLDEN}") is None:
        return ""
    parts = [element.find(f"{{{metadata.NAMESPACE}}}{tag}") for tag in (GOLDEN, POOLS)]
    return "".join(ET.tostring(p, encoding="unicode") for p in parts if p is not None)
