"""Cloning on a real libvirtd + QEMU: a full copy and a linked clone of a guest's qcow2 disk, both boot; a clone
that fails half-way (a full pool, a taken name) leaves nothing behind."""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt
import pytest

from tests.guest.build_tiny_guest import TinyGuestFiles
from tests.helpers import remove_guests, wait_until
from tests.integration.conftest import PREFIX, dir_pool, image_info, serial_text, unavailable
from vmgui.core import storage
from vmgui.core.clone import DiskMode, clone_guest
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import delete_guest


def test_full_and_linked_clones_boot_and_the_linked_one_builds_on_the_source(
        system_uri: str, disk_guest: str, scratch_pool: storage.PoolInfo) -> None:
    conn = libvirt.open(system_uri)
    try:
        src = conn.lookupByUUIDString(disk_guest)
        src_disk = DomainXml(src.XMLDesc(0)).disks[0].source_path
        assert src_disk is not None
        pid = os.getpid()
        full = clone_guest(conn, disk_guest, f"{PREFIX}clone-full-{pid}", {"vda": DiskMode.COPY})
        linked = clone_guest(conn, disk_guest, f"{PREFIX}clone-linked-{pid}", {"vda": DiskMode.LINK})
        full_disk = DomainXml(conn.lookupByUUIDString(full.uuid).XMLDesc(0)).disks[0].source_path
        linked_disk = DomainXml(conn.lookupByUUIDString(linked.uuid).XMLDesc(0)).disks[0].source_path
        assert full_disk and linked_disk and len({src_disk, full_disk, linked_disk}) == 3
        assert "backing-filename" not in image_info(full_disk)
        linked_info = image_info(linked_disk)
        assert (linked_info["format"], linked_info["backing-filename"]) == ("qcow2", src_disk)
        for made in (full, linked):
            dom = conn.lookupByUUIDString(made.uuid)
            dom.create()
            wait_until(lambda d=dom: "VMGUI-TINY-GUEST READY" in serial_text(d), timeout=150,  # type: ignore[misc]
                       what=f"{made.name} booted")
            assert dom.isActive()
            backing = ET.fromstring(dom.XMLDesc(0)).find("devices/disk/backingStore/source")
            # the running guest's <backingStore>: the linked clone reads the source's disk, the full copy none
            assert (backing.get("file") if backing is not None else None) == (src_disk if made is linked else None)
            dom.destroy()
        # the source's disk was never written by the clones
        assert "backing-filename" not in image_info(src_disk)
    finally:
        conn.close()


def test_deleting_a_linked_clone_keeps_its_base_and_the_base_is_refused_while_it_has_children(
        system_uri: str, disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    try:
        base = DomainXml(conn.lookupByUUIDString(disk_guest).XMLDesc(0)).disks[0].source_path
        assert base is not None
        linked = clone_guest(conn, disk_guest, f"{PREFIX}clone-del-{os.getpid()}", {"vda": DiskMode.LINK})
        overlay = DomainXml(conn.lookupByUUIDString(linked.uuid).XMLDesc(0)).disks[0].source_path
        assert overlay is not None
        with pytest.raises(VmguiError, match="stays: other disk images build on it"):
            delete_guest(conn, disk_guest, [base])
        assert delete_guest(conn, linked.uuid, [overlay]) == [overlay]
        assert not os.path.exists(overlay) and os.path.exists(base)
        assert "backing-filename" not in image_info(base)
    finally:
        conn.close()


def test_a_clone_failing_half_way_on_a_full_pool_or_a_taken_name_leaves_no_orphan(
        system_uri: str, tiny_files: TinyGuestFiles) -> None:
    if os.geteuid() != 0:
        unavailable("a small filesystem for a pool that fills up needs root to mount")
    name = f"{PREFIX}full-{os.getpid()}"
    path = tiny_files.kernel.parent / "pools" / name
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(path)], check=True)
    try:
        for disk, mib in (("vda", 4), ("vdb", 30)):  # random data: a copy takes as much room again
            with open(path / f"{name}-{disk}.img", "wb") as out:
                out.write(os.urandom(mib << 20))
        with dir_pool(system_uri, name, path):
            conn = libvirt.open(system_uri)
            try:
                _fail_half_way(conn, name, path)
            finally:
                remove_guests(conn, lambda n: n.startswith(name))
                conn.close()
    finally:
        subprocess.run(["umount", str(path)], check=True)
        path.rmdir()


def _fail_half_way(conn: libvirt.virConnect, name: str, path: Path) -> None:
    disks = "".join(f"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{path}/{name}-"
                    f"{d}.img'/><target dev='{d}' bus='virtio'/></disk>" for d in ("vda", "vdb"))
    source = conn.defineXML(f"<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory><os><type "
                            f"arch='x86_64'>hvm</type></os><devices>{disks}</devices></domain>").UUIDString()
    before = sorted(os.listdir(path))
    clone = f"{name}-clone"
    copies = {"vda": DiskMode.COPY, "vdb": DiskMode.COPY}
    # vda's copy fits, vdb's does not: the pool fills up half-way
    with pytest.raises(VmguiError, match=r"Could not copy .*-vdb\.img"):
        clone_guest(conn, source, clone, copies)
    assert sorted(os.listdir(path)) == before
    assert sorted(v.name for v in storage.list_volumes(conn, name)) == before
    assert clone not in [d.name() for d in conn.listAllDomains(0)]
    # the name of vdb's copy is taken (by another client) while vda is copied: refused, vda's copy removed
    taken = storage.create_volume(conn, name, f"{clone}-vdb.img", 1 << 20, "raw")
    with pytest.raises(VmguiError, match=f"already has a disk image named '{clone}-vdb.img'"):
        clone_guest(conn, source, clone, copies)
    assert sorted(os.listdir(path)) == sorted([*before, os.path.basename(taken.path)])
    assert clone not in [d.name() for d in conn.listAllDomains(0)]
