"""Desktop pools: linked clones of a golden image version, assigned to users, reset to the image (blocking).

A pool's definition lives in its golden image's source guest (vmgui metadata part "pools"); each
desktop carries its pool, golden version and user in its own metadata part "desktop". So every vmgui
on any machine sees the same pools and assignments, with no database of its own.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

import libvirt

from vmgui.core import metadata, storage
from vmgui.core.clone import clone_domain_xml, names_from_pattern
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import delete_guest, undefine
from vmgui.core.new_guest import name_problem
from vmgui.core.vdi.golden import GoldenVersion, read_golden

POOLS = "pools"
DESKTOP = "desktop"
MODES = ("persistent", "reset")


@dataclass(frozen=True)
class PoolSpec:
    name: str
    golden_uuid: str          # the golden image's source guest
    size: int                 # desktops wanted
    pattern: str              # "desk-{n:03}"
    mode: str = "persistent"  # or "reset": back to the golden image at each shutdown
    memory_mib: int | None = None
    vcpus: int | None = None


@dataclass(frozen=True)
class Desktop:
    uuid: str
    name: str
    pool: str
    version: int
    user: str | None
    disk: str                 # the desktop's overlay
    running: bool


def read_pools(conn: libvirt.virConnect) -> list[PoolSpec]:
    """Every desktop pool of the host, by name."""
    found = []
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT):
        part = metadata.read_part(dom, POOLS)
        for el in part.findall("pool") if part is not None else ():
            found.append(PoolSpec(
                name=el.get("name", ""), golden_uuid=dom.UUIDString(), size=int(el.get("size", "0")),
                pattern=el.get("pattern", ""), mode=el.get("mode", "persistent"),
                memory_mib=_int(el.get("memory")), vcpus=_int(el.get("vcpus"))))
    return sorted(found, key=lambda p: p.name)


def save_pool(conn: libvirt.virConnect, spec: PoolSpec) -> None:
    """Create or change a pool's definition (its desktops follow with provision())."""
    if name_problem(spec.name, set()):
        raise VmguiError(f"'{spec.name}' cannot name a pool: {name_problem(spec.name, set())}")
    if spec.mode not in MODES:
        raise VmguiError(f"A pool is 'persistent' or 'reset', not '{spec.mode}'.")
    if spec.size < 0:
        raise VmguiError("A pool cannot have fewer than 0 desktops.")
    names_from_pattern(spec.pattern, 1, set())  # a pattern that cannot make names is refused now
    golden = conn.lookupByUUIDString(spec.golden_uuid)
    image = read_golden(golden)
    if image is None or image.latest is None:
        raise VmguiError(f"{golden.name()} has no published golden image: publish it first.")
    other = next((p for p in read_pools(conn) if p.name == spec.name and p.golden_uuid != spec.golden_uuid), None)
    if other is not None:
        raise VmguiError(f"There is already a pool named '{spec.name}' (on another golden image).")
    part = metadata.read_part(golden, POOLS) or ET.Element(POOLS)
    for el in part.findall("pool"):
        if el.get("name") == spec.name:
            part.remove(el)
    attrs = {"name": spec.name, "size": str(spec.size), "pattern": spec.pattern, "mode": spec.mode}
    if spec.memory_mib:
        attrs["memory"] = str(spec.memory_mib)
    if spec.vcpus:
        attrs["vcpus"] = str(spec.vcpus)
    ET.SubElement(part, "pool", attrs)
    metadata.write_part(golden, POOLS, part)


def desktops(conn: libvirt.virConnect, pool: str) -> list[Desktop]:
    """The desktops of a pool, by name."""
    found = []
    for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT):
        desktop = _desktop(dom)
        if desktop is not None and desktop.pool == pool:
            found.append(desktop)
    return sorted(found, key=lambda d: d.name)


def provision(conn: libvirt.virConnect, pool_name: str) -> list[Desktop]:
    """Grow the pool to its size with new linked clones of the golden image's newest version, or shrink it,
    removing unassigned desktops first (never a desktop someone is assigned to). The pool's desktops."""
    spec = _spec(conn, pool_name)
    golden = conn.lookupByUUIDString(spec.golden_uuid)
    image = read_golden(golden)
    if image is None or image.latest is None:
        raise VmguiError(f"{golden.name()} has no published golden image.")
    have = desktops(conn, pool_name)
    if len(have) > spec.size:
        spare = [d for d in have if d.user is None and not d.running]
        extra = len(have) - spec.size
        if len(spare) < extra:
            raise VmguiError(f"Only {len(spare)} desktops of '{pool_name}' are unassigned and shut off; "
                             f"{extra} would have to go.")
        for desktop in sorted(spare, key=lambda d: d.name, reverse=True)[:extra]:
            _remove(conn, desktop)
    elif len(have) < spec.size:
        taken = {d.name() for d in conn.listAllDomains(0)}
        for name in names_from_pattern(spec.pattern, spec.size - len(have), taken):
            _make_desktop(conn, golden, spec, image.latest, name)
    return desktops(conn, pool_name)


def assign(conn: libvirt.virConnect, uuid: str, user: str | None) -> Desktop:
    """Give a desktop to a user (None: take it back)."""
    dom = conn.lookupByUUIDString(uuid)
    desktop = _desktop(dom)
    if desktop is None:
        raise VmguiError(f"{dom.name()} is not a pool desktop.")
    clean = user.strip() if user else None
    if user is not None and not clean:
        raise VmguiError("Give the user's name.")
    _write_desktop(dom, replace(desktop, user=clean))
    found = _desktop(dom)
    assert found is not None
    return found


def assign_next_free(conn: libvirt.virConnect, pool: str, user: str) -> Desktop:
    """The user's desktop in the pool: theirs already, else the first unassigned one, now theirs."""
    mine = [d for d in desktops(conn, pool) if d.user == user]
    if mine:
        return mine[0]
    free = [d for d in desktops(conn, pool) if d.user is None]
    if not free:
        raise VmguiError(f"Every desktop of '{pool}' is assigned: grow the pool or free one.")
    return assign(conn, free[0].uuid, user)


def reset(conn: libvirt.virConnect, uuid: str, version: GoldenVersion | None = None) -> Desktop:
    """Put a shut-off desktop back to its golden image (a fresh, empty overlay); with `version`, onto that
    version (recompose). The desktop keeps its name, identity and user."""
    dom = conn.lookupByUUIDString(uuid)
    desktop = _desktop(dom)
    if desktop is None:
        raise VmguiError(f"{dom.name()} is not a pool desktop.")
    if dom.isActive():
        raise VmguiError(f"Shut {dom.name()} down first: a desktop is reset while it is off.")
    spec = _spec(conn, desktop.pool)
    image = read_golden(conn.lookupByUUIDString(spec.golden_uuid))
    target = version
    if target is None and image is not None:
        target = next((v for v in image.versions if v.number == desktop.version), None)
    if target is None:
        raise VmguiError(f"The golden version v{desktop.version} of {dom.name()} is gone.")
    base = storage.find_volume(conn, target.path)
    old = storage.find_volume(conn, desktop.disk)
    if base is None or old is None:
        raise VmguiError(f"The images of {dom.name()} are not in a storage pool.")
    storage.delete_volume(conn, old.path)
    storage.create_overlay(conn, base, old.name)
    _write_desktop(dom, replace(desktop, version=target.number))
    found = _desktop(dom)
    assert found is not None
    return found


# ---- helpers ----------------------------------------------------------------------------------------


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def _spec(conn: libvirt.virConnect, pool_name: str) -> PoolSpec:
    spec = next((p for p in read_pools(conn) if p.name == pool_name), None)
    if spec is None:
        raise VmguiError(f"There is no desktop pool named '{pool_name}'.")
    return spec


def _desktop(dom: libvirt.virDomain) -> Desktop | None:
    part = metadata.read_part(dom, DESKTOP)
    if part is None:
        return None
    return Desktop(uuid=dom.UUIDString(), name=dom.name(), pool=part.get("pool", ""),
                   version=int(part.get("version", "0")), user=part.get("user") or None,
                   disk=part.get("disk", ""), running=bool(dom.isActive()))


def _write_desktop(dom: libvirt.virDomain, desktop: Desktop) -> None:
    attrs = {"pool": desktop.pool, "version": str(desktop.version), "disk": desktop.disk}
    if desktop.user:
        attrs["user"] = desktop.user
    metadata.write_part(dom, DESKTOP, ET.Element(DESKTOP, attrs))


def _make_desktop(conn: libvirt.virConnect, golden: libvirt.virDomain, spec: PoolSpec, version: GoldenVersion,
                  name: str) -> None:
    source = DomainXml(golden.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE))
    disks = [d for d in source.disks if (d.device or "disk") == "disk" and d.source_path]
    base = storage.find_volume(conn, version.path)
    if not disks or base is None:
        raise VmguiError(f"The golden version {version.label} is not in a storage pool.")
    target = disks[0].target_dev or "vda"
    overlay = storage.create_overlay(conn, base, f"{name}-{target}.qcow2")
    dom: libvirt.virDomain | None = None
    try:
        xml = clone_domain_xml(source.to_xml(), name, {target: overlay.path})
        for part in ("golden", POOLS, "tags"):  # the image's own metadata is not the desktop's
            holder = xml.metadata_element(metadata.NAMESPACE)
            found = holder.find(f"{{{metadata.NAMESPACE}}}{part}") if holder is not None else None
            if holder is not None and found is not None:
                holder.remove(found)
        if spec.memory_mib:
            xml.memory_mib = xml.current_memory_mib = spec.memory_mib
        if spec.vcpus:
            xml.vcpus = spec.vcpus
        dom = conn.defineXML(xml.to_xml())
        _write_desktop(dom, Desktop(dom.UUIDString(), name, spec.name, version.number, None, overlay.path, False))
    except BaseException:
        if dom is not None:
            undefine(dom)
        storage.delete_volume(conn, overlay.path)
        raise


def _remove(conn: libvirt.virConnect, desktop: Desktop) -> None:
    delete_guest(conn, desktop.uuid, [desktop.disk])
