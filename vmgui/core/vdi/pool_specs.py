"""Desktop pool definitions: what a pool is, read from and saved into its golden image's metadata (blocking).

A pool's definition lives in its golden image's source guest (vmgui metadata part "pools"), so the pool
lives on that guest's host and every vmgui that connects there sees it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

import libvirt

from vmgui.core import metadata
from vmgui.core.clone import names_from_pattern
from vmgui.core.errors import VmguiError
from vmgui.core.new_guest import name_problem
from vmgui.core.vdi import marks
from vmgui.core.vdi.golden import GoldenImage, GoldenVersion, read_golden
from vmgui.core.vdi.marks import DesktopMark

POOLS = marks.POOLS
MODES = ("persistent", "reset")
MODE_LABELS = {"persistent": "Persistent: the user's changes stay",
               "reset": "Reset on shutdown: back to the golden image each time it is shut down"}


@dataclass(frozen=True)
class PoolSpec:
    name: str
    golden_uuid: str          # the golden image's source guest
    size: int                 # desktops wanted
    pattern: str              # "desk-{n:03}"
    mode: str = "persistent"  # or "reset": back to the golden image at each shutdown
    memory_mib: int | None = None
    vcpus: int | None = None
    prestarted: int = 0       # unassigned desktops kept running, so a user gets one at once
    version: int | None = None  # the golden version desktops are made on (None: the newest)


def read_pools(conn: libvirt.virConnect) -> list[PoolSpec]:
    """Every desktop pool of the host, by name."""
    def pools_of(dom: libvirt.virDomain) -> list[PoolSpec]:
        part = metadata.read_part(dom, POOLS)
        return [_spec_from(el, dom.UUIDString()) for el in (part.findall("pool") if part is not None else ())]

    return sorted((p for specs in metadata.read_each(conn, pools_of) for p in specs), key=lambda p: p.name)


def _spec_from(el: ET.Element, golden_uuid: str) -> PoolSpec:
    return PoolSpec(name=el.get("name", ""), golden_uuid=golden_uuid, size=_int(el.get("size")) or 0,
                    pattern=el.get("pattern", ""), mode=el.get("mode", "persistent"),
                    memory_mib=_int(el.get("memory")), vcpus=_int(el.get("vcpus")),
                    prestarted=_int(el.get("prestarted")) or 0, version=_int(el.get("version")))


def find_pool(conn: libvirt.virConnect, pool_name: str) -> PoolSpec:
    spec = next((p for p in read_pools(conn) if p.name == pool_name), None)
    if spec is None:
        raise VmguiError(f"There is no desktop pool named '{pool_name}'.")
    return spec


def pool_of(conn: libvirt.virConnect, mark: DesktopMark) -> PoolSpec:
    """A desktop's pool: read from its golden image alone when the desktop names it (fast on a host with
    many guests), else found among every pool of the host."""
    if mark.golden:
        try:
            golden = conn.lookupByUUIDString(mark.golden)
        except libvirt.libvirtError:
            golden = None
        part = metadata.read_part(golden, POOLS) if golden is not None else None
        for el in part.findall("pool") if part is not None else ():
            if el.get("name") == mark.pool:
                return _spec_from(el, mark.golden)
    return find_pool(conn, mark.pool)


def pool_version(conn: libvirt.virConnect, spec: PoolSpec) -> GoldenVersion:
    """The golden version the pool's desktops are made on, and moved to at their next reset."""
    image = pool_image(conn, spec)
    version = next((v for v in image.versions if v.number == spec.version), None) if spec.version else image.latest
    if version is None:
        raise VmguiError(f"The golden image {image.name} has no version v{spec.version} any more; "
                         "recompose the pool onto another version.")
    return version


def spec_problem(spec: PoolSpec) -> str:
    """Why the pool cannot be saved like this ("" when it can), without asking libvirt."""
    if name_problem(spec.name, set()):
        return f"'{spec.name}' cannot name a pool: {name_problem(spec.name, set())}"
    if spec.mode not in MODES:
        return f"A pool is 'persistent' or 'reset', not '{spec.mode}'."
    if spec.size < 0:
        return "A pool cannot have fewer than 0 desktops."
    if not 0 <= spec.prestarted <= spec.size:
        return f"Between 0 and {spec.size} desktops can be pre-started."
    try:
        names_from_pattern(spec.pattern, 1, set())
    except VmguiError as err:
        return str(err)
    return ""


def save_pool(conn: libvirt.virConnect, spec: PoolSpec) -> PoolSpec:
    """Create or change a pool's definition (its desktops follow with provision()); the spec as saved."""
    problem = spec_problem(spec)
    if problem:
        raise VmguiError(problem)
    golden = conn.lookupByUUIDString(spec.golden_uuid)
    image = read_golden(golden)
    if image is None or image.latest is None:
        raise VmguiError(f"{golden.name()} has no published golden image: publish it first.")
    if spec.version is None:
        spec = replace(spec, version=image.latest.number)
    elif not any(v.number == spec.version for v in image.versions):
        raise VmguiError(f"{golden.name()} has no golden image version v{spec.version}.")
    other = next((p for p in read_pools(conn) if p.name == spec.name and p.golden_uuid != spec.golden_uuid), None)
    if other is not None:
        raise VmguiError(f"There is already a pool named '{spec.name}' (on another golden image).")
    part = metadata.read_part(golden, POOLS) or ET.Element(POOLS)
    for el in part.findall("pool"):
        if el.get("name") == spec.name:
            part.remove(el)
    attrs = {"name": spec.name, "size": str(spec.size), "pattern": spec.pattern, "mode": spec.mode,
             "version": str(spec.version)}
    if spec.memory_mib:
        attrs["memory"] = str(spec.memory_mib)
    if spec.vcpus:
        attrs["vcpus"] = str(spec.vcpus)
    if spec.prestarted:
        attrs["prestarted"] = str(spec.prestarted)
    ET.SubElement(part, "pool", attrs)
    metadata.write_part(golden, POOLS, part)
    return spec



# ---- helpers ----------------------------------------------------------------------------------------


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def pool_image(conn: libvirt.virConnect, spec: PoolSpec) -> GoldenImage:
    golden = conn.lookupByUUIDString(spec.golden_uuid)
    image = read_golden(golden)
    if image is None or image.latest is None:
        raise VmguiError(f"{golden.name()} has no published golden image.")
    return image
