"""Snapshots of a running guest on real QEMU: take one with memory (and its screen), revert, delete; external ones
with memory and disks only."""

from __future__ import annotations

import libvirt

from tests.helpers import wait_until
from tests.integration.conftest import image_info, serial_text
from vmgui.core import snapshots
from vmgui.core.domain_xml import DomainXml


def test_a_running_guest_is_snapshotted_reverted_to_running_and_the_snapshot_deleted(system_uri: str,
                                                                                     disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    dom = conn.lookupByUUIDString(disk_guest)
    try:
        dom.create()
        wait_until(lambda: "VMGUI-TINY-GUEST READY" in serial_text(dom), timeout=150, what="the guest booted")
        booted, screen = snapshots.take(conn, disk_guest, "booted", "at the shell")
        assert (booted.state, booted.current, booted.external, booted.with_memory) == ("running", True, False, True)
        assert screen is not None and screen[:2] in (b"P6", b"\x89P")  # the screen then, PPM or PNG
        dom.destroy()
        assert not dom.isActive()
        snapshots.revert(conn, dom, "booted")  # memory and disks as they were: running again
        assert dom.isActive() and dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        snapshots.create_snapshot(conn, dom, "later")
        snapshots.delete(conn, dom, "booted")
        left = snapshots.read_snapshots(dom)
        assert [(s.name, s.parent, s.current) for s in left] == [("later", None, True)]
        snapshots.delete(conn, dom, "later")
        assert snapshots.read_snapshots(dom) == []
        # external, with memory: overlays on the disks and a memory file; this libvirt cannot revert to it
        outside, _screen = snapshots.take(conn, disk_guest, "outside", kind=snapshots.SnapshotKind.EXTERNAL_MEMORY)
        assert (outside.external, outside.state) == (True, "running")
        disk = DomainXml(dom.XMLDesc(0)).disks[0].source_path
        assert disk is not None and disk.endswith(".outside")  # the guest now writes to the overlay
        # external, disks only: another overlay, no memory; the guest keeps running on it
        disks, _screen = snapshots.take(conn, disk_guest, "disks", kind=snapshots.SnapshotKind.EXTERNAL_DISK)
        assert (disks.external, disks.state, disks.with_memory, disks.parent) == (True, "disk-snapshot", False,
                                                                                 "outside")
        top = DomainXml(dom.XMLDesc(0)).disks[0].source_path
        assert top is not None and top.endswith(".disks") and image_info(top)["backing-filename"] == disk
        assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
        if conn.getLibVersion() < snapshots.EXTERNAL_REVERT:
            problem = snapshots.revert_problem(conn, dom, outside)
            assert problem is not None and "needs libvirt 9.9" in problem
    finally:
        if dom.isActive():
            dom.destroy()
        for snap in dom.listAllSnapshots(0):
            snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY)
        conn.close()
