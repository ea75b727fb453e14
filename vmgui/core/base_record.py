"""Bases made of a guest's disks, recorded in its vmgui metadata so later clones build on them, not on new ones."""

from __future__ import annotations

import datetime
import logging
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import libvirt

from vmgui.core import metadata

log = logging.getLogger(__name__)

PART = "bases"


@dataclass(frozen=True)
class RecordedBase:
    """A read-only base a guest's disk was moved off (`make_base`, `protect_source`): the guest runs on an overlay
    whose backing file it is, as long as nobody changed the disk since."""

    target: str                 # vda
    path: str                   # the base's file
    made: datetime.datetime | None  # when it became a base (aware); None when the record has no valid time


def recorded_bases(dom: libvirt.virDomain) -> dict[str, RecordedBase]:
    """The bases recorded for the guest's disks, by target (blocking). Only a record: whether one still holds
    (the disk an overlay on it) is for the caller to check."""
    part = metadata.read_part(dom, PART)
    found: dict[str, RecordedBase] = {}
    for element in part.findall("base") if part is not None else ():
        target, path = element.get("target"), element.get("path")
        if target and path:
            found[target] = RecordedBase(target, path, _time(element.get("made", "")))
    return found


def record_bases(dom: libvirt.virDomain, bases: Mapping[str, str], made: datetime.datetime | None = None) -> None:
    """Record `bases` (target -> the base's path) for the guest, replacing earlier records of those disks, in its
    persistent config and, when it runs, its live state (blocking). A failure is logged, not raised: the bases
    are made, a later Clone dialog merely offers to make them again."""
    when = (made or datetime.datetime.now(datetime.UTC)).isoformat(timespec="seconds")
    try:
        kept = {t: b for t, b in recorded_bases(dom).items() if t not in bases}
        holder = ET.Element(PART)
        for base in kept.values():
            ET.SubElement(holder, "base", target=base.target, path=base.path,
                          made=base.made.isoformat(timespec="seconds") if base.made else "")
        for target, path in bases.items():
            ET.SubElement(holder, "base", target=target, path=path, made=when)
        metadata.write_part(dom, PART, holder)
    except libvirt.libvirtError as err:
        log.warning("%s: could not record its bases %s: %s", dom.name(), ", ".join(bases.values()), err)


def _time(text: str) -> datetime.datetime | None:
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None
