"""Cloning on a real libvirtd + QEMU: a full copy and a linked clone of a guest's qcow2 disk, both boot."""

from __future__ import annotations

import os

import libvirt
import pytest

from tests.helpers import wait_until
from tests.integration.conftest import PREFIX, image_info, serial_text
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
