"""Snapshots on the test driver: the tree, create, revert to the state then, delete, describe, refusals."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from vmgui.core import snapshots
from vmgui.core.errors import VmguiError

GUEST = """<domain type='test'><name>snappy</name><memory unit='MiB'>128</memory>
  <os><type arch='i686'>hvm</type></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='/default-pool/snappy.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>"""


@pytest.fixture
def dom() -> Iterator[libvirt.virDomain]:
    conn = libvirt.open("test:///default")
    d = conn.defineXML(GUEST)
    yield d
    for snap in d.listAllSnapshots(libvirt.VIR_DOMAIN_SNAPSHOT_LIST_ROOTS):
        snap.delete(libvirt.VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN)
    if d.isActive():
        d.destroy()
    d.undefine()
    conn.close()


def names(dom: libvirt.virDomain) -> list[str]:
    return [s.name for s in snapshots.read_snapshots(dom)]


def test_the_tree_with_parents_current_and_the_state_when_taken(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    first = snapshots.create_snapshot(conn, dom, "clean", "fresh install")
    assert (first.parent, first.state, first.description, first.current, first.external) == \
        (None, "shutoff", "fresh install", True, False)
    dom.create()
    snapshots.create_snapshot(conn, dom, "running-1")
    snapshots.create_snapshot(conn, dom, "running-2", "after updates")
    tree = snapshots.read_snapshots(dom)
    assert [(s.name, s.parent, s.state, s.current) for s in tree] == [
        ("clean", None, "shutoff", False), ("running-1", "clean", "running", False),
        ("running-2", "running-1", "running", True)]
    assert tree[1].with_memory and not tree[0].with_memory
    assert [s.name for s in snapshots.children(tree, None)] == ["clean"]
    assert snapshots.subtree(tree, "running-1") == ["running-1", "running-2"]


def test_revert_brings_back_the_state_of_then(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    snapshots.create_snapshot(conn, dom, "off")
    dom.create()
    snapshots.create_snapshot(conn, dom, "on")
    snapshots.revert(conn, dom, "off")
    assert not dom.isActive()
    snapshots.revert(conn, dom, "on")
    assert dom.isActive()
    assert [s.name for s in snapshots.read_snapshots(dom) if s.current] == ["on"]


def test_revert_to_a_snapshot_of_a_paused_guest_leaves_it_paused(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    dom.create()
    dom.suspend()
    snapshots.create_snapshot(conn, dom, "paused")
    dom.resume()
    snapshots.create_snapshot(conn, dom, "running")
    dom.destroy()
    snapshots.revert(conn, dom, "paused")
    assert dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED
    snapshots.revert(conn, dom, "running")
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_which_kinds_of_snapshot_the_guest_can_have_now(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    off = snapshots.kind_problems(conn, dom)
    assert off[snapshots.SnapshotKind.INTERNAL] is None and off[snapshots.SnapshotKind.EXTERNAL_DISK] is None
    assert "needs the guest running" in (off[snapshots.SnapshotKind.EXTERNAL_MEMORY] or "")
    with pytest.raises(VmguiError, match="needs the guest running"):
        snapshots.take(conn, dom.UUIDString(), "s", kind=snapshots.SnapshotKind.EXTERNAL_MEMORY)
    assert names(dom) == []
    dom.create()
    assert set(snapshots.kind_problems(conn, dom).values()) == {None}
    made, screen = snapshots.take(conn, dom.UUIDString(), "s")  # internal, with the screen then
    assert made.state == "running" and screen is not None and screen[:4] == b"\x89PNG"


def test_delete_one_keeps_its_children_delete_a_subtree_removes_them(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    for name in ("a", "b", "c"):
        snapshots.create_snapshot(conn, dom, name)
    snapshots.delete(conn, dom, "b")
    assert names(dom) == ["a", "c"] and snapshots.read_snapshots(dom)[1].parent == "a"
    snapshots.delete(conn, dom, "a", with_children=True)
    assert names(dom) == []
    with pytest.raises(VmguiError, match="no snapshot named 'a'"):
        snapshots.delete(conn, dom, "a")


def test_descriptions_can_be_changed(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    snapshots.create_snapshot(conn, dom, "s", "before <upgrade> & reboot")
    snapshots.set_description(dom, "s", "kept: the upgrade worked")
    s, = snapshots.read_snapshots(dom)
    assert (s.description, s.current) == ("kept: the upgrade worked", True)


def test_names_are_checked(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    snapshots.create_snapshot(conn, dom, "s")
    with pytest.raises(VmguiError, match="already has a snapshot named 's'"):
        snapshots.create_snapshot(conn, dom, "s")
    with pytest.raises(VmguiError, match="needs a name"):
        snapshots.create_snapshot(conn, dom, "  ")


class OldLibvirt:
    """The test host, but reporting an older libvirt (the version decides what is refused)."""

    def __init__(self, conn: libvirt.virConnect, version: int) -> None:
        self._conn, self._version = conn, version

    def getLibVersion(self) -> int:
        return self._version

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def test_what_the_host_cannot_do_is_refused_with_the_reason(dom: libvirt.virDomain) -> None:
    conn = dom.connect()
    old = OldLibvirt(conn, 9_000_000)
    uefi = conn.defineXML(GUEST.replace("<name>snappy</name>", "<name>snappy-uefi</name>").replace(
        "<type arch='i686'>hvm</type>", "<type arch='i686'>hvm</type><loader readonly='yes' type='pflash'>"
        "/usr/share/OVMF/OVMF_CODE.fd</loader>"))
    try:
        assert "need libvirt 10.9 (this host has 9.0.0)" in (snapshots.create_problem(old, uefi, external=False) or "")
        assert snapshots.create_problem(old, uefi, external=True) is None
        assert snapshots.create_problem(OldLibvirt(conn, 10_009_000), uefi, external=False) is None
        # an internal snapshot of the UEFI guest (made elsewhere) cannot be deleted before libvirt 10.10
        uefi.snapshotCreateXML("<domainsnapshot><name>fw</name></domainsnapshot>", 0)
        with pytest.raises(VmguiError, match=r"Deleting internal snapshots of UEFI guests needs libvirt 10\.10 "
                                             r"\(this host has 9\.0\.0\)"):
            snapshots.delete(old, uefi, "fw")
        assert [s.name for s in snapshots.read_snapshots(uefi)] == ["fw"]  # kept
        with pytest.raises(VmguiError, match=r"needs libvirt 10\.10"):
            snapshots.delete(OldLibvirt(conn, 10_009_000), uefi, "fw")  # 10.9 creates them, but cannot delete
        snapshots.delete(OldLibvirt(conn, 10_010_000), uefi, "fw")
        assert snapshots.read_snapshots(uefi) == []
    finally:
        uefi.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA)
    raw = conn.defineXML(GUEST.replace("<name>snappy</name>", "<name>snappy-raw</name>").replace(
        "type='qcow2'", "type='raw'"))
    try:
        with pytest.raises(VmguiError, match="Internal snapshots need qcow2 disks, and vda is not"):
            snapshots.create_snapshot(conn, raw, "s")
    finally:
        raw.undefine()
    external = snapshots.SnapshotInfo("e", None, datetime.datetime.now(tz=datetime.UTC), "", "disk-snapshot",
                                      current=False, external=True)
    assert "needs libvirt 9.9 (this host has 9.0.0)" in (snapshots.revert_problem(old, dom, external) or "")
    assert snapshots.revert_problem(OldLibvirt(conn, 9_009_000), dom, external) is None
