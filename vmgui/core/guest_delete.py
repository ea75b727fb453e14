"""Deleting a guest with its storage, never a file something else still needs (blocking).

Each disk is offered for deletion unless it is protected: a CD-ROM or ISO, read-only or shareable, used
by another guest, not in a storage pool (vmgui only deletes through libvirt's storage API), or the
backing file of another volume (a linked clone or a golden image's desktops build on it). Protection
is checked again at the moment of deletion, so what changed meanwhile is still refused.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

import libvirt

from vmgui.core import storage
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiskToDelete:
    target: str
    path: str
    delete_by_default: bool
    protected: str     # why this disk must stay ("" when it may be deleted)


def disks_of(conn: libvirt.virConnect, dom: libvirt.virDomain) -> list[DiskToDelete]:
    """The guest's disks, each with whether deleting it is offered and why not."""
    own_uuid = dom.UUIDString()
    used_elsewhere = _paths_used_by_other_guests(conn, own_uuid)
    backing = backing_files(conn)
    result = []
    for disk in DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).disks:
        path = disk.source_path
        if not path:
            continue
        reason = _protection(conn, path, disk.device or "disk", disk.readonly, disk.shareable, used_elsewhere,
                             backing)
        result.append(DiskToDelete(disk.target_dev or "", path, not reason, reason))
    return result


def delete_guest(conn: libvirt.virConnect, uuid: str, paths: Iterable[str]) -> list[str]:
    """Stop and undefine the guest, then delete the chosen disk images (blocking): the paths deleted.

    Refuses (before anything is removed) a path that is protected now or is not one of the guest's disks.
    """
    dom = conn.lookupByUUIDString(uuid)
    offered = {d.path: d for d in disks_of(conn, dom)}
    chosen = list(dict.fromkeys(paths))
    for path in chosen:
        if path not in offered:
            raise VmguiError(f"{path} is not a disk of this guest.")
        if offered[path].protected:
            raise VmguiError(f"{path} stays: {offered[path].protected}.")
    if dom.isActive():
        dom.destroy()
    try:
        undefine(dom)
    except libvirt.libvirtError as err:
        raise VmguiError(f"The guest could not be removed: {err.get_error_message()}") from err
    deleted = []
    for path in chosen:
        try:
            if storage.delete_volume(conn, path):
                deleted.append(path)
        except libvirt.libvirtError as err:  # the guest is gone; say which image is left
            raise VmguiError(f"The guest was removed, but {path} could not be deleted: "
                             f"{err.get_error_message()}") from err
    return deleted


def undefine(dom: libvirt.virDomain) -> None:
    """Undefine a (shut-off) guest with its managed save image, snapshot metadata and NVRAM file; drivers
    that lack those flags (the test driver) get a plain undefine. Raises libvirtError."""
    flags = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
             | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM)
    try:
        dom.undefineFlags(flags)
    except libvirt.libvirtError as err:
        if err.get_error_code() not in (libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG):
            raise
        dom.undefine()


def _protection(conn: libvirt.virConnect, path: str, device: str, readonly: bool, shareable: bool,
                used_elsewhere: dict[str, str], backing: dict[str, list[str]]) -> str:
    if device != "disk" or path.lower().endswith(".iso"):
        return "install media is kept"
    if readonly or shareable:
        return "it is read-only or shared"
    if path in used_elsewhere:
        return f"the guest '{used_elsewhere[path]}' uses it too"
    if path in backing:
        users = ", ".join(sorted(backing[path])[:3]) + (" and more" if len(backing[path]) > 3 else "")
        return f"other disk images build on it ({users})"
    if storage.find_volume(conn, path) is None:
        return "it is in no storage pool"
    return ""


def _paths_used_by_other_guests(conn: libvirt.virConnect, own_uuid: str) -> dict[str, str]:
    used: dict[str, str] = {}
    for other in conn.listAllDomains(0):
        if other.UUIDString() == own_uuid:
            continue
        try:
            xml = other.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue  # undefined by another client since the listing: it uses nothing now
            raise
        for disk in DomainXml(xml).disks:
            if disk.source_path:
                used.setdefault(disk.source_path, other.name())
    return used


def backing_files(conn: libvirt.virConnect) -> dict[str, list[str]]:
    """Backing file -> the volumes that build on it, over every active pool."""
    found: dict[str, list[str]] = {}
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        for vol in pool.listAllVolumes(0):
            try:
                base = ET.fromstring(vol.XMLDesc(0)).findtext("backingStore/path")
            except libvirt.libvirtError:
                continue  # removed meanwhile
            if base:
                found.setdefault(base, []).append(vol.name())
    return found
