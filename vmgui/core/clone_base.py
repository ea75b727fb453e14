"""Making a running guest's disks read-only bases for linked clones, while it keeps running on new overlays.

An external disk-only snapshot without snapshot metadata: each chosen disk gets a new qcow2 overlay (made
first through its pool, so the pool knows it and a failure removes it), QEMU switches to it atomically,
and the file the guest ran on until then is never written again: linked clones build on it. No snapshot
shows up in the guest's snapshot list (deleting one would merge the overlay back into the base, which the
clones build on). Everything here is blocking; run it in a worker thread.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Collection

import libvirt

from vmgui.core import storage
from vmgui.core.base_record import record_bases
from vmgui.core.clone import NEEDS_SHUTOFF, inspect_disks, repoint_disks, top_name
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError

log = logging.getLogger(__name__)

FLAGS = (libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
         | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC | libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT)


def base_targets(conn: libvirt.virConnect, uuid: str) -> list[str]:
    """The running guest's disks that can be made bases: those a linked clone is refused only because it runs."""
    return [d.target for d in inspect_disks(conn, conn.lookupByUUIDString(uuid)) if d.why == NEEDS_SHUTOFF]


def make_base(conn: libvirt.virConnect, uuid: str, targets: Collection[str]) -> dict[str, str]:
    """Move the running guest `uuid` onto a new overlay on each disk of `targets`: {target: the base's path}.

    All or nothing: when the snapshot fails the guest keeps running on its old disks and the new overlays
    are removed again. The bases are recorded in the guest's vmgui metadata (`base_record`).
    """
    dom = conn.lookupByUUIDString(uuid)
    name = dom.name()
    if not dom.isActive():
        raise VmguiError(f"{name} is shut off: linked clones can build on its disks as they are.")
    disks = {d.target: d for d in inspect_disks(conn, dom)}
    for target in targets:
        disk = disks.get(target)
        if disk is None or disk.why != NEEDS_SHUTOFF:
            why = (disk.why if disk is not None and disk.why else
                   f"it runs on an overlay of the base {disk.base.name} already, which linked clones build on"
                   if disk is not None and disk.base is not None else "it is not a disk vmgui can link")
            raise VmguiError(f"{target} cannot be made a base: {why}.")
    overlays: dict[str, str] = {}
    bases: dict[str, str] = {}
    try:
        for target in targets:
            volume = disks[target].volume
            assert volume is not None
            try:
                overlays[target] = storage.create_overlay(conn, volume, top_name(conn, name, disks[target])).path
            except VmguiError as err:
                raise _not_made(name, str(err)) from err
            bases[target] = volume.path
        _snapshot(dom, overlays)
    except BaseException:
        storage.remove_made_volumes(conn, overlays.values())
        raise
    _keep_in_definition(conn, dom, overlays)
    record_bases(dom, bases)  # a later Clone dialog links on them at once, with no overlay more
    return bases


def _snapshot(dom: libvirt.virDomain, overlays: dict[str, str]) -> None:
    """The disk-only snapshot onto the made overlays; every other disk is left as it is."""
    disks = ""
    for disk in DomainXml(dom.XMLDesc(0)).disks:
        target = disk.target_dev
        if not target:
            continue
        if target in overlays:
            disks += (f"<disk name='{html.escape(target)}' snapshot='external' type='file'><driver type='qcow2'/>"
                      f"<source file='{html.escape(overlays[target])}'/></disk>")
        else:
            disks += f"<disk name='{html.escape(target)}' snapshot='no'/>"
    try:
        dom.snapshotCreateXML(f"<domainsnapshot><disks>{disks}</disks></domainsnapshot>", FLAGS)
    except libvirt.libvirtError as err:
        raise _not_made(dom.name(), err.get_error_message()) from err


def _not_made(name: str, why: str) -> VmguiError:
    return VmguiError(f"{name}'s disks could not be made a base (it keeps running on them): {why}")


def _keep_in_definition(conn: libvirt.virConnect, dom: libvirt.virDomain, overlays: dict[str, str]) -> None:
    """Make sure the saved definition names the overlays too, so the guest never boots from a base again
    (libvirt updates it itself; this covers a daemon that did not)."""
    if not dom.isPersistent():
        return
    saved = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
    paths = {d.target_dev: d.source_path for d in DomainXml(saved).disks}
    if any(paths.get(target) != path for target, path in overlays.items()):
        log.warning("%s: libvirt left the old disks in the saved definition; pointing it at the overlays", dom.name())
        conn.defineXML(repoint_disks(saved, overlays).to_xml())
