"""A running guest's disk made a base on a real libvirtd + QEMU: the guest goes on on a new overlay, a linked
clone of the base boots, the base file is not written again, and a later clone from a fresh inspection builds
on the same base (recorded in the guest's metadata) with no overlay more."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import libvirt
import pytest

from tests.helpers import wait_until
from tests.integration.conftest import PREFIX, image_info, serial_text
from vmgui.core import metadata, storage
from vmgui.core.clone import DiskMode, backing_file, clone_guest, inspect_disks
from vmgui.core.clone_base import base_targets, make_base
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError

READY = "VMGUI-TINY-GUEST READY"


def digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def disk_path(dom: libvirt.virDomain, flags: int = 0) -> str:
    path = DomainXml(dom.XMLDesc(flags)).disks[0].source_path
    assert path is not None
    return path


def test_a_running_guest_is_made_a_base_linked_clones_of_it_boot_and_later_ones_reuse_it(
        system_uri: str, disk_guest: str, scratch_pool: storage.PoolInfo) -> None:
    conn = libvirt.open(system_uri)
    source = conn.lookupByUUIDString(disk_guest)
    old = disk_path(source)
    clone_name = f"{PREFIX}clone-base-{os.getpid()}"
    try:
        source.create()
        wait_until(lambda: READY in serial_text(source), timeout=150, what="the source booted")
        started = source.info()[4]  # CPU time: the same QEMU process goes on
        assert base_targets(conn, disk_guest) == ["vda"]

        bases = make_base(conn, disk_guest, ["vda"])

        assert bases == {"vda": old}
        top = disk_path(source)
        assert top != old and top.startswith(str(scratch_pool.path))
        assert disk_path(source, libvirt.VIR_DOMAIN_XML_INACTIVE) == top  # a later boot keeps off the base too
        info = image_info(top)
        assert (info["format"], info["backing-filename"]) == ("qcow2", old)
        assert backing_file(conn, top) == old  # the pool knows the overlay
        assert source.snapshotNum(0) == 0  # the guest's snapshot list is not cluttered
        assert source.isActive() and source.info()[4] >= started
        base_digest = digest(old)

        made = clone_guest(conn, disk_guest, clone_name, {"vda": DiskMode.LINK}, bases=bases.values())
        clone = conn.lookupByUUIDString(made.uuid)
        clone_disk = disk_path(clone)
        info = image_info(clone_disk)
        assert (info["format"], info["backing-filename"]) == ("qcow2", old)  # the base, not the source's overlay
        clone.create()
        wait_until(lambda: READY in serial_text(clone), timeout=150, what="the linked clone booted")
        assert source.isActive() and disk_path(source) == top  # the source kept running on its overlay
        clone.destroy()
        assert digest(old) == base_digest  # neither guest wrote the base

        # later, a fresh inspection (a reopened Clone dialog) finds the base in the source's metadata
        vda = {d.target: d for d in inspect_disks(conn, source)}["vda"]
        assert vda.base is not None and vda.base.path == old and DiskMode.LINK in vda.modes and vda.why == ""
        assert base_targets(conn, disk_guest) == []  # nothing to make a base of again
        with pytest.raises(VmguiError, match=r"^vda cannot be made a base: it runs on an overlay of the base "
                                             rf"{os.path.basename(old)} already, which linked clones build on\.$"):
            make_base(conn, disk_guest, ["vda"])
        second = clone_guest(conn, disk_guest, f"{PREFIX}clone-base2-{os.getpid()}",  # the run's PID last
                             {"vda": DiskMode.LINK})  # no bases passed
        info = image_info(disk_path(conn.lookupByUUIDString(second.uuid)))
        assert (info["format"], info["backing-filename"]) == ("qcow2", old)  # the same base
        assert disk_path(source) == top and disk_path(source, libvirt.VIR_DOMAIN_XML_INACTIVE) == top
        assert image_info(top)["backing-filename"] == old and "backing-filename" not in image_info(old)
        name = source.name()
        assert sorted(v.name for v in storage.list_volumes(conn, scratch_pool.name) if v.name.startswith(name)) == [
            f"{name}-top-vda.qcow2", f"{name}.qcow2"]  # the source's chain did not grow
    finally:
        if source.isActive():
            source.destroy()
        conn.close()


def test_a_base_that_cannot_be_made_leaves_the_guest_on_its_disk_and_no_overlay(
        system_uri: str, disk_guest: str, scratch_pool: storage.PoolInfo) -> None:
    conn = libvirt.open(system_uri)
    source = conn.lookupByUUIDString(disk_guest)
    before = disk_path(source)
    volumes = sorted(v.name for v in storage.list_volumes(conn, scratch_pool.name))
    try:
        with pytest.raises(VmguiError, match="is shut off"):
            make_base(conn, disk_guest, ["vda"])
        metadata.write_part(source, "bases", None)  # the test before made it a base: as if no vmgui recorded it
        source.create()
        wait_until(lambda: READY in serial_text(source), timeout=150, what="the source booted")
        # what the pool makes is no qcow2 image (a raw file): QEMU refuses it after it was made in the pool

        def not_qcow2(c: libvirt.virConnect, base: storage.VolumeInfo, name: str) -> storage.VolumeInfo:
            return storage.create_volume(c, base.pool, name, base.capacity, "raw")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(storage, "create_overlay", not_qcow2)
            with pytest.raises(VmguiError, match=r"could not be made a base \(it keeps running on them\)"):
                make_base(conn, disk_guest, ["vda"])
        assert source.isActive() and disk_path(source) == before
        assert disk_path(source, libvirt.VIR_DOMAIN_XML_INACTIVE) == before
        assert sorted(v.name for v in storage.list_volumes(conn, scratch_pool.name)) == volumes
    finally:
        if source.isActive():
            source.destroy()
        conn.close()
