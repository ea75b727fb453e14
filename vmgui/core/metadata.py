"""vmgui's own data inside a domain's <metadata>: one <vmgui:guest> element per domain, tags first.

Every vmgui that connects to the host sees the same data, because libvirt stores it with the domain.
Later features (VDI state) add children beside <tags>; writing one part keeps the others.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from typing import TypeVar

import libvirt

NAMESPACE = "https://vmgui.org/xmlns/guest/1.0"
PREFIX = "vmgui"
_ROOT = "guest"

T = TypeVar("T")

MAX_TAG_LENGTH = 64
MAX_TAGS = 32
_TAG_RE = re.compile(r"^[\w][\w .:+@/-]*$")


def guest_element(domain_root: ET.Element) -> ET.Element | None:
    """The <vmgui:guest> element inside a parsed domain XML, if any."""
    return domain_root.find(f"metadata/{{{NAMESPACE}}}{_ROOT}")


def tags_from_domain(domain_root: ET.Element) -> tuple[str, ...]:
    element = guest_element(domain_root)
    if element is None:
        return ()
    return tuple(t.text.strip() for t in element.iter(f"{{{NAMESPACE}}}tag") if t.text and t.text.strip())


def normalize_tags(tags: Iterable[str]) -> tuple[str, ...]:
    """Trimmed tags without case-insensitive duplicates, in the given order; ValueError says what is wrong."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in tags:
        tag = " ".join(raw.split())
        if not tag:
            continue
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"Tag '{tag[:20]}…' is longer than {MAX_TAG_LENGTH} characters.")
        if not _TAG_RE.match(tag):
            raise ValueError(
                f"Tag '{tag}' has characters tags cannot hold (allowed: letters, digits, space . : + @ / - _).")
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            result.append(tag)
    if len(result) > MAX_TAGS:
        raise ValueError(f"A guest can have at most {MAX_TAGS} tags.")
    return tuple(result)


def parse_tag_text(text: str) -> tuple[str, ...]:
    """Tags typed as a comma-separated list."""
    return normalize_tags(text.split(","))


def _current_guest_xml(dom: libvirt.virDomain, flags: int) -> ET.Element:
    try:
        text = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, NAMESPACE, flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN_METADATA:
            raise
        return ET.Element(_ROOT)
    return ET.fromstring(text)


def write_tags(dom: libvirt.virDomain, tags: Iterable[str]) -> tuple[str, ...]:
    """Store the tags on the guest's persistent config and, when running, its live state (blocking)."""
    clean = normalize_tags(tags)
    holder = None
    if clean:
        holder = ET.Element("tags")
        for tag in clean:
            ET.SubElement(holder, "tag").text = tag
    write_part(dom, "tags", holder, first=True)
    return clean


def read_each(conn: libvirt.virConnect, read: Callable[[libvirt.virDomain], T | None]) -> list[T]:
    """read(dom) for every persistent guest of the host, without the Nones (blocking).

    Another client may undefine a guest between the listing and its read: that guest is left out.
    """
    found = []
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT):
        try:
            item = read(dom)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue
            raise
        if item is not None:
            found.append(item)
    return found


def read_part(dom: libvirt.virDomain, tag: str) -> ET.Element | None:
    """One child of vmgui's element in the guest's persistent config ("tags", "golden"...), if present
    (blocking). Elements come without namespace, as vmgui writes them."""
    flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG if dom.isPersistent() else libvirt.VIR_DOMAIN_AFFECT_LIVE
    return _current_guest_xml(dom, flags).find(tag)


def write_part(dom: libvirt.virDomain, tag: str, element: ET.Element | None, *, first: bool = False) -> None:
    """Replace (or with None remove) one child of vmgui's element, in the persistent config and, when
    running, the live state; the other children are kept (blocking)."""
    targets = []
    if dom.isPersistent():
        targets.append(libvirt.VIR_DOMAIN_AFFECT_CONFIG)
    if dom.isActive():
        targets.append(libvirt.VIR_DOMAIN_AFFECT_LIVE)
    for flags in targets:
        root = _current_guest_xml(dom, flags)
        for old in root.findall(tag):
            root.remove(old)
        if element is not None:
            if first:
                root.insert(0, element)
            else:
                root.append(element)
        dom.setMetadata(
            libvirt.VIR_DOMAIN_METADATA_ELEMENT, ET.tostring(root, encoding="unicode"),
            PREFIX, NAMESPACE, flags,
        )
