"""What a domain's vmgui metadata says about its part in VDI: a pool desktop (pool, version, user) or a golden image."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

from vmgui.core import metadata

DESKTOP = "desktop"
GOLDEN = "golden"


@dataclass(frozen=True)
class DesktopMark:
    """A pool desktop's record, as kept in its own metadata."""

    pool: str
    version: int       # the golden image version its overlay builds on
    user: str | None   # the user it is assigned to
    disk: str          # its overlay


def mark_from_part(part: ET.Element | None) -> DesktopMark | None:
    """The desktop record from the <desktop> part (namespace-free, as metadata.read_part gives it)."""
    if part is None or not part.get("pool"):
        return None
    try:
        version = int(part.get("version", "0"))
    except ValueError:
        version = 0
    return DesktopMark(part.get("pool", ""), version, part.get("user") or None, part.get("disk", ""))


def part_from_mark(mark: DesktopMark) -> ET.Element:
    attrs = {"pool": mark.pool, "version": str(mark.version), "disk": mark.disk}
    if mark.user:
        attrs["user"] = mark.user
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


def is_golden(domain_root: ET.Element) -> bool:
    """The domain is the source of a golden image."""
    element = metadata.guest_element(domain_root)
    return element is not None and element.find(f"{{{metadata.NAMESPACE}}}{GOLDEN}") is not None
