"""Pools on several hosts: a golden image version copied to another host, where the same pool gets desktops (blocking).

A pool lives on its golden image's host. To let it live on another host too, the version is copied
there through libvirt streams (any two hosts, local or remote), into a guest of the image's name that
is marked as its copy ("replica"); its own disk is an overlay on the copied version, so starting it never
writes the version. That host then gets the same pool definition on the copy, and its own desktops;
My Desktops and the Desktop Pools window show every host's desktops of the pool together.
"""

from __future__ import annotations

import os
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace

import libvirt

from vmgui.core import metadata, storage
from vmgui.core.clone import clone_domain_xml
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import undefine
from vmgui.core.vdi import golden, pools
from vmgui.core.vdi.desktops import Desktop
from vmgui.core.vdi.golden import read_golden
from vmgui.core.vdi.pool_specs import find_pool, pool_version, read_pools, save_pool
from vmgui.core.vdi.pools import desktop_template

Progress = Callable[[str], None]


def copy_golden_to(src: libvirt.virConnect, source_uuid: str, number: int, dst: libvirt.virConnect, *,
                   storage_pool: str | None = None, progress: Progress = lambda _s: None,
                   cancel: threading.Event | None = None) -> str:
    """Make version `number` of the golden image `source_uuid` (on `src`) available on `dst`; the UUID of
    the image's copy there. A version already copied is not copied again."""
    source = src.lookupByUUIDString(source_uuid)
    image = read_golden(source)
    version = next((v for v in image.versions if v.number == number), None) if image else None
    if image is None or version is None:
        raise VmguiError(f"{source.name()} has no golden image version v{number}.")
    name = source.name()
    replica = _lookup(dst, name)
    if replica is not None and golden.replica_of(replica) != source_uuid:
        raise VmguiError(f"The other host already has a guest named {name} that is not a copy of this golden "
                         "image; rename one of them first.")
    if replica is not None:
        have = read_golden(replica)
        if have is not None and any(v.number == number for v in have.versions):
            return str(replica.UUIDString())
    volume = storage.find_volume(src, version.path)
    if volume is None:
        raise VmguiError(f"{version.path} is in no storage pool, so vmgui cannot copy it.")
    pool_name = storage_pool or _matching_pool(dst, volume.pool)
    progress(f"Copying {name} {version.label} to the other host…")
    copy = storage.copy_volume_to(src, volume, dst, pool_name, os.path.basename(version.path),
                                  lambda share: progress(f"Copying {name} {version.label}: {share:.0%}"),
                                  read_only=True, cancel=cancel)
    made_replica: libvirt.virDomain | None = None
    overlay: str | None = None
    try:
        if replica is None:
            progress(f"Defining the copy of {name}…")
            own = storage.create_overlay(dst, copy, f"{name}-replica.qcow2")
            overlay = own.path
            replica = made_replica = _define_replica(source, dst, own.path, src.getURI())
        else:
            _move_overlay(dst, replica, copy)
        golden.record_version(replica, replace(version, path=copy.path))
    except BaseException:
        if made_replica is not None:
            undefine(made_replica)
        if overlay is not None:
            storage.delete_volume(dst, overlay)
        storage.delete_volume(dst, copy.path)
        raise
    return str(replica.UUIDString())


def extend_pool_to(src: libvirt.virConnect, pool_name: str, dst: libvirt.virConnect, size: int, *,
                   progress: Progress = lambda _s: None, cancel: threading.Event | None = None) -> list[Desktop]:
    """Let the pool live on `dst` too, with `size` desktops there on the pool's golden version (copied
    first when missing; a pool already there moves onto it as a recompose does). The desktops on `dst`."""
    spec = find_pool(src, pool_name)
    version = pool_version(src, spec)
    replica_uuid = copy_golden_to(src, spec.golden_uuid, version.number, dst, progress=progress, cancel=cancel)
    there = next((p for p in read_pools(dst) if p.name == pool_name), None)
    if there is not None and there.golden_uuid != replica_uuid:
        raise VmguiError(f"The other host has a pool named '{pool_name}' on another golden image.")
    progress(f"Making {size} desktops of {pool_name} there…")
    save_pool(dst, replace(spec, golden_uuid=replica_uuid, size=size, prestarted=min(spec.prestarted, size),
                           version=there.version if there is not None else version.number))
    if there is not None and there.version != version.number:
        pools.recompose(dst, pool_name, version.number)
    return pools.provision(dst, pool_name)


def _move_overlay(conn: libvirt.virConnect, replica: libvirt.virDomain, version: storage.VolumeInfo) -> None:
    """The copy's own disk onto the newest copied version, so that older ones can be retired there."""
    if replica.isActive():
        return  # someone started the copy; its disk moves next time
    disks = [d for d in DomainXml(replica.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).disks
             if (d.device or "disk") == "disk" and d.source_path]
    old = storage.find_volume(conn, disks[0].source_path or "") if disks else None
    if old is None or old.format != "qcow2":
        return
    storage.delete_volume(conn, old.path)
    storage.create_overlay(conn, version, old.name)


def _lookup(conn: libvirt.virConnect, name: str) -> libvirt.virDomain | None:
    try:
        return conn.lookupByName(name)
    except libvirt.libvirtError:
        return None


def _matching_pool(dst: libvirt.virConnect, name: str) -> str:
    """The storage pool of the same name on `dst`, else its default pool."""
    for candidate in (name, storage.DEFAULT_POOL):
        try:
            if dst.storagePoolLookupByName(candidate).isActive():
                return candidate
        except libvirt.libvirtError:
            continue
    raise VmguiError(f"The other host has no running storage pool '{name}' or '{storage.DEFAULT_POOL}' "
                     "to copy the golden image into.")


def _define_replica(source: libvirt.virDomain, dst: libvirt.virConnect, disk: str, home: str) -> libvirt.virDomain:
    template, target = desktop_template(source)  # the home image's records are not the copy's
    copy = clone_domain_xml(template, source.name(), {target: disk})
    try:
        dom = dst.defineXML(copy.to_xml())
    except libvirt.libvirtError as err:
        raise VmguiError(f"The other host did not accept {source.name()}'s configuration: "
                         f"{err.get_error_message()}") from err
    metadata.write_part(dom, golden.REPLICA, ET.Element(golden.REPLICA, {"of": source.UUIDString(), "home": home}))
    return dom
