"""A running guest's disks made bases for linked clones, on the test driver: what is asked of libvirt, the
undo when it refuses, and linked clones on a base while the source runs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from tests.core.test_clone import SOURCE, volumes
from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.clone import NEEDS_SHUTOFF, DiskMode, backing_file, clone_guest, inspect_disks
from vmgui.core.clone_base import FLAGS, base_targets, make_base
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")
    storage.create_volume(c, "default-pool", "web.qcow2", 2 * storage.GIB)
    storage.create_volume(c, "default-pool", "data.img", storage.GIB, "raw")
    c.defineXML(SOURCE).create()
    yield c
    remove_guests(c, lambda name: name.startswith("web"))
    remove_volumes(c, "default-pool")
    c.close()


class Snapshotting:
    """The test host, whose domains take the disk-only snapshot (the test driver refuses it) and record it."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self._conn = conn
        self.asked: list[tuple[str, int]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def lookupByUUIDString(self, uuid: str) -> Any:
        host = self

        class Domain:
            def __init__(self, dom: libvirt.virDomain) -> None:
                self._dom = dom

            def __getattr__(self, name: str) -> Any:
                return getattr(self._dom, name)

            def snapshotCreateXML(self, xml: str, flags: int) -> None:
                host.asked.append((xml, flags))
        return Domain(self._conn.lookupByUUIDString(uuid))


def test_the_running_guests_pool_disks_can_be_made_bases(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    assert base_targets(conn, uuid) == ["vda", "vdb"]  # not the CD-ROM, not the disk outside any pool
    conn.lookupByName("web").destroy()
    assert base_targets(conn, uuid) == []
    with pytest.raises(VmguiError, match="web is shut off: linked clones can build on its disks as they are"):
        make_base(conn, uuid, ["vda"])
    assert sorted(volumes(conn)) == ["data.img", "web.qcow2"]


def test_disks_that_cannot_be_bases_are_refused_before_anything_is_made(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    with pytest.raises(VmguiError, match="vdc cannot be made a base: the disk is in no storage pool"):
        make_base(conn, uuid, ["vda", "vdc"])
    with pytest.raises(VmguiError, match="sda cannot be made a base: CD-ROMs and floppies are shared"):
        make_base(conn, uuid, ["sda"])
    assert sorted(volumes(conn)) == ["data.img", "web.qcow2"]


def test_a_refused_snapshot_leaves_no_overlay_and_the_guest_on_its_disks(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    with pytest.raises(VmguiError, match=r"web's disks could not be made a base \(it keeps running on them\): "
                                         "unsupported flags"):
        make_base(conn, uuid, ["vda", "vdb"])  # the test driver takes no disk-only snapshots
    assert sorted(volumes(conn)) == ["data.img", "web.qcow2"]
    dom = conn.lookupByName("web")
    assert dom.isActive() and dom.snapshotNum(0) == 0
    for flags in (0, libvirt.VIR_DOMAIN_XML_INACTIVE):
        assert [d.source_path for d in DomainXml(dom.XMLDesc(flags)).disks][:2] == ["/default-pool/web.qcow2",
                                                                                    "/default-pool/data.img"]


def test_the_snapshot_asked_for_and_the_saved_definition_on_the_overlays(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    storage.create_volume(conn, "default-pool", "web-top-vda.qcow2", storage.GIB)  # from an earlier base
    host = Snapshotting(conn)
    bases = make_base(host, uuid, ["vda"])  # type: ignore[arg-type]
    assert bases == {"vda": "/default-pool/web.qcow2"}
    assert backing_file(conn, "/default-pool/web-top2-vda.qcow2") == "/default-pool/web.qcow2"
    [(xml, flags)] = host.asked
    assert flags == FLAGS  # disk-only, no snapshot metadata, atomic, onto the overlay made in the pool
    assert flags & libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA
    assert flags & libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT and flags & libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC
    disks = {d.get("name"): d for d in ET.fromstring(xml).findall("disks/disk")}
    assert {name: d.get("snapshot") for name, d in disks.items()} == {"vda": "external", "vdb": "no", "sda": "no",
                                                                      "vdc": "no"}
    assert disks["vda"].find("source").get("file") == "/default-pool/web-top2-vda.qcow2"  # type: ignore[union-attr]
    assert disks["vda"].find("driver").get("type") == "qcow2"  # type: ignore[union-attr]
    # the test driver does not move the saved definition onto the overlay as libvirtd does: vmgui does
    saved = DomainXml(conn.lookupByName("web").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert [(d.source_path, d.driver_type) for d in saved.disks][:2] == [
        ("/default-pool/web-top2-vda.qcow2", "qcow2"), ("/default-pool/data.img", "raw")]


def on_a_base(conn: libvirt.virConnect) -> tuple[str, str]:
    """The guest running on an overlay of web.qcow2, as after make_base: its UUID and the base's path."""
    base = storage.find_volume(conn, "/default-pool/web.qcow2")
    assert base is not None
    top = storage.create_overlay(conn, base, "web-top-vda.qcow2")
    dom = conn.lookupByName("web")
    dom.destroy()
    dom = conn.defineXML(SOURCE.replace("type='qcow2'/>\n      <source file='/default-pool/web.qcow2'/>",
                                        f"type='qcow2'/>\n      <source file='{top.path}'/>"))
    dom.create()
    return dom.UUIDString(), base.path


def test_linked_clones_of_a_running_guest_build_on_its_base(conn: libvirt.virConnect) -> None:
    uuid, base = on_a_base(conn)
    dom = conn.lookupByUUIDString(uuid)
    assert {d.target: d.why for d in inspect_disks(conn, dom)}["vda"] == NEEDS_SHUTOFF  # no base named
    assert {d.target: d.why for d in inspect_disks(conn, dom, ["/default-pool/data.img"])}["vda"] == NEEDS_SHUTOFF
    vda = {d.target: d for d in inspect_disks(conn, dom, [base])}["vda"]
    assert vda.modes == (DiskMode.COPY, DiskMode.LINK, DiskMode.SHARE) and vda.why == ""
    assert vda.base is not None and vda.link_to == vda.base and vda.base.path == base
    with pytest.raises(VmguiError, match=r"vda: linked clone is not possible \(a linked clone needs the source"):
        clone_guest(conn, uuid, "web-clone", {"vda": DiskMode.LINK})  # without the base
    made = clone_guest(conn, uuid, "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE}, bases=[base],
                       protect_base=True)  # nothing to protect: the base is not the running guest's disk
    clone_disk = DomainXml(conn.lookupByUUIDString(made.uuid).XMLDesc(0)).disks[0].source_path
    assert clone_disk == "/default-pool/web-clone-vda.qcow2" and backing_file(conn, clone_disk) == base
    assert dom.isActive()
    assert DomainXml(dom.XMLDesc(0)).disks[0].source_path == "/default-pool/web-top-vda.qcow2"  # untouched
    assert sorted(volumes(conn)) == ["data.img", "web-clone-vda.qcow2", "web-top-vda.qcow2", "web.qcow2"]


def test_a_pool_too_full_for_the_second_overlay_leaves_no_first_one(conn: libvirt.virConnect) -> None:
    # the test pool holds 100 GiB and counts an overlay as its full size: vda's 2 GiB fits, vdb's 99 GiB not
    conn.storageVolLookupByPath("/default-pool/data.img").delete(0)
    storage.create_volume(conn, "default-pool", "data.img", 99 * storage.GIB, "raw")  # sparse: nothing allocated
    uuid = conn.lookupByName("web").UUIDString()
    with pytest.raises(VmguiError, match=r"^web's disks could not be made a base \(it keeps running on them\): Could "
                                         r"not make an overlay on data\.img: .*Not enough free space"):
        make_base(conn, uuid, ["vda", "vdb"])
    assert sorted(volumes(conn)) == ["data.img", "web.qcow2"]  # vda's overlay, made first, is gone again
    dom = conn.lookupByName("web")
    assert dom.isActive() and DomainXml(dom.XMLDesc(0)).disks[0].source_path == "/default-pool/web.qcow2"
