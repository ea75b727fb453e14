"""Desktop pools at work: provision, grow and shrink them, recompose onto a golden version, pre-start (blocking).

Each desktop is a linked clone of the pool's golden version and carries its record in its own
metadata (desktops.py). Several vmgui processes may provision the same pool at once: a desktop's name is
claimed by creating its overlay volume, which libvirt lets only one client do.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import replace

import libvirt

from vmgui.core import metadata, storage
from vmgui.core.clone import clone_domain_xml, names_from_pattern
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import delete_guest, undefine
from vmgui.core.vdi import desktops as desk
from vmgui.core.vdi.desktops import Desktop
from vmgui.core.vdi.golden import GoldenVersion
from vmgui.core.vdi.marks import DESKTOP, DesktopMark
from vmgui.core.vdi.pool_specs import POOLS, PoolSpec, find_pool, pool_image, pool_version, save_pool


def provision(conn: libvirt.virConnect, pool_name: str) -> list[Desktop]:
    """Grow the pool to its size with new linked clones of its golden version, or shrink it, removing
    unassigned shut-off desktops first (never one someone is assigned to). The pool's desktops."""
    spec = find_pool(conn, pool_name)
    golden = conn.lookupByUUIDString(spec.golden_uuid)
    version = pool_version(conn, spec)
    have = desk.desktops(conn, pool_name)
    if len(have) > spec.size:
        spare = [d for d in have if d.user is None and not d.running]
        extra = len(have) - spec.size
        if len(spare) < extra:
            raise VmguiError(f"Only {len(spare)} desktops of '{pool_name}' are unassigned and shut off; "
                             f"{extra} would have to go.")
        for desktop in sorted(spare, key=lambda d: d.name, reverse=True)[:extra]:
            delete_guest(conn, desktop.uuid, [desktop.disk])
    elif len(have) < spec.size:
        _grow(conn, golden, spec, version, have)
    return desk.desktops(conn, pool_name)


def remove_pool(conn: libvirt.virConnect, pool_name: str, *, assigned_too: bool = False) -> list[str]:
    """Delete the pool's desktops (their overlays too) and its definition; the names removed. Refused
    while users have desktops in it, unless `assigned_too`."""
    spec = find_pool(conn, pool_name)
    have = desk.desktops(conn, pool_name)
    assigned = [d for d in have if d.user]
    if assigned and not assigned_too:
        raise VmguiError(f"'{pool_name}' still has desktops assigned to "
                         f"{', '.join(sorted({d.user or '' for d in assigned}))}.")
    for desktop in have:
        delete_guest(conn, desktop.uuid, [desktop.disk])
    golden = conn.lookupByUUIDString(spec.golden_uuid)
    part = metadata.read_part(golden, POOLS)
    if part is not None:
        for el in part.findall("pool"):
            if el.get("name") == pool_name:
                part.remove(el)
        metadata.write_part(golden, POOLS, part if len(part) else None)
    return [d.name for d in have]


def recompose(conn: libvirt.virConnect, pool_name: str, number: int) -> tuple[list[str], list[str]]:
    """Move the pool onto golden version `number`: unassigned shut-off desktops now, the others at their
    next reset (new desktops are made on it). The names moved now, and those that move later."""
    spec = find_pool(conn, pool_name)
    image = pool_image(conn, spec)
    version = next((v for v in image.versions if v.number == number), None)
    if version is None:
        raise VmguiError(f"{image.name} has no golden image version v{number}.")
    save_pool(conn, replace(spec, version=number))
    now, later = [], []
    for desktop in desk.desktops(conn, pool_name):
        if desktop.version == number:
            continue
        if desktop.user is None and not desktop.running:
            desk.reset(conn, desktop.uuid, version)
            now.append(desktop.name)
        else:
            later.append(desktop.name)
    return now, later


def prestart(conn: libvirt.virConnect, pool_name: str) -> list[str]:
    """Start unassigned desktops until the pool's pre-started number of them run; the names started."""
    spec = find_pool(conn, pool_name)
    free = [d for d in desk.desktops(conn, pool_name) if d.user is None]
    missing = spec.prestarted - sum(d.running for d in free)
    started = []
    for desktop in [d for d in free if not d.running][:max(0, missing)]:
        desk.start(conn, desktop.uuid)
        started.append(desktop.name)
    return started


# ---- helpers ----------------------------------------------------------------------------------------


def _candidates(pattern: str) -> Iterator[str]:
    for n in itertools.count(1):
        yield names_from_pattern(pattern, 1, set(), start=n)[0]


def _grow(conn: libvirt.virConnect, golden: libvirt.virDomain, spec: PoolSpec, version: GoldenVersion,
          have: list[Desktop]) -> None:
    """Make desktops until the pool counts `spec.size`. A name is claimed by creating its overlay: a name
    whose overlay exists (made a moment ago by another client) counts as that client's desktop, so two
    vmgui growing one pool together make it exactly full."""
    counted = len(have)
    mine = {d.name for d in have}
    taken = {d.name() for d in conn.listAllDomains(0)}
    template, target = desktop_template(golden)
    base = storage.find_volume(conn, version.path)
    if base is None:
        raise VmguiError(f"The golden version {version.label} is not in a storage pool.")
    for name in _candidates(spec.pattern):
        if counted >= spec.size:
            break
        if name in mine:
            continue
        if storage.volume_exists(conn, base.pool, f"{name}-{target}.qcow2"):
            counted += 1  # another client's desktop, made since `have` was read or being made now
            continue
        if name in taken:
            continue  # a guest that is not a desktop has this name
        with contextlib.suppress(storage.VolumeExists):  # else another client claimed it just now
            _make_desktop(conn, template, target, base, spec, version, name)
        counted += 1


def desktop_template(golden: libvirt.virDomain) -> tuple[str, str]:
    """The golden image's guest as its copies start from: its configuration without the image's own vmgui
    records (versions, pools, tags, a desktop's record), and the target of the first disk, which the copies
    replace."""
    source = DomainXml(golden.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE))
    disks = [d for d in source.disks if (d.device or "disk") == "disk" and d.source_path]
    if not disks:
        raise VmguiError(f"{golden.name()} has no disk to build desktops on.")
    holder = source.metadata_element(metadata.NAMESPACE)
    for part in ("golden", POOLS, "tags", DESKTOP):
        found = holder.find(f"{{{metadata.NAMESPACE}}}{part}") if holder is not None else None
        if holder is not None and found is not None:
            holder.remove(found)
    return source.to_xml(), disks[0].target_dev or "vda"


def _make_desktop(conn: libvirt.virConnect, template: str, target: str, base: storage.VolumeInfo, spec: PoolSpec,
                  version: GoldenVersion, name: str) -> None:
    overlay = storage.create_overlay(conn, base, f"{name}-{target}.qcow2")  # the claim on the name
    dom: libvirt.virDomain | None = None
    try:
        xml = clone_domain_xml(template, name, {target: overlay.path})
        if spec.memory_mib:
            xml.memory_mib = xml.current_memory_mib = spec.memory_mib
        if spec.vcpus:
            xml.vcpus = spec.vcpus
        dom = conn.defineXML(xml.to_xml())
        desk.write_mark(dom, DesktopMark(spec.name, version.number, None, overlay.path, spec.golden_uuid))
    except BaseException:
        if dom is not None:
            undefine(dom)
        storage.delete_volume(conn, overlay.path)
        raise
