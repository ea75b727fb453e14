"""Cloning on the test driver: copies, linked clones, shared disks, new identity, batch names, undo."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import libvirt
import pytest

from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.clone import (
    DiskMode,
    backing_file,
    clone_domain_xml,
    clone_guest,
    inspect_disks,
    names_from_pattern,
    suggest_name,
)
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError

SOURCE = """<domain type='test'>
  <name>web</name>
  <uuid>11111111-2222-3333-4444-555555555555</uuid>
  <memory unit='MiB'>256</memory>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/default-pool/web.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='/default-pool/data.img'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/isos/debian.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
    <disk type='file' device='disk'><source file='/elsewhere/scratch.img'/><target dev='vdc' bus='virtio'/></disk>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/>
      <target dev='vnet7'/></interface>
    <serial type='pty'><log file='/var/log/guests/web.serial.log' append='off'/><target port='0'/></serial>
    <graphics type='vnc' port='5907' autoport='no'/>
  </devices>
</domain>"""


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")  # shared by the process while any connection is open: clean up
    storage.create_volume(c, "default-pool", "web.qcow2", 2 * storage.GIB)
    storage.create_volume(c, "default-pool", "data.img", storage.GIB, "raw")
    c.defineXML(SOURCE)
    yield c
    remove_guests(c, lambda name: name.startswith("web"))
    remove_volumes(c, "default-pool")
    c.close()


def volumes(conn: libvirt.virConnect) -> list[str]:
    return [v.name for v in storage.list_volumes(conn, "default-pool")]


def test_each_disk_says_what_cloning_can_do_with_it(conn: libvirt.virConnect) -> None:
    disks = {d.target: d for d in inspect_disks(conn, conn.lookupByName("web"))}
    assert disks["vda"].modes == (DiskMode.COPY, DiskMode.LINK, DiskMode.SHARE) and disks["vda"].format == "qcow2"
    assert disks["vdb"].modes == (DiskMode.COPY, DiskMode.LINK, DiskMode.SHARE)
    assert disks["sda"].modes == (DiskMode.SHARE,) and "CD-ROMs" in disks["sda"].why
    assert disks["vdc"].modes == (DiskMode.SHARE,) and "in no storage pool" in disks["vdc"].why
    conn.lookupByName("web").create()
    running = {d.target: d for d in inspect_disks(conn, conn.lookupByName("web"))}
    assert running["vda"].modes == (DiskMode.COPY, DiskMode.SHARE)
    assert running["vda"].why == "a linked clone needs the source shut off, or its disk made a base"


def test_a_clone_gets_a_new_identity(conn: libvirt.virConnect) -> None:
    uefi = SOURCE.replace("</type>", "</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd"
                                     "</loader><nvram>/var/lib/libvirt/qemu/nvram/web_VARS.fd</nvram>")
    clone = clone_domain_xml(uefi, "web-2", {"vda": "/default-pool/web-2-vda.qcow2"})
    assert (clone.name, clone.uuid) == ("web-2", None)
    assert clone.interfaces[0].mac is None and clone.interfaces[0].find("target") is None
    g = clone.graphics[0]
    assert (g.port, g.autoport) == (None, True)
    assert clone.find("devices/serial/log").get("file") == "/var/log/guests/web-2.serial.log"  # type: ignore[union-attr]
    assert clone.find("os/nvram") is None and clone.find("os/loader") is not None  # libvirt makes a new NVRAM
    assert [d.source_path for d in clone.disks] == ["/default-pool/web-2-vda.qcow2", "/default-pool/data.img",
                                                    "/isos/debian.iso", "/elsewhere/scratch.img"]


def test_full_copy_linked_clone_and_shared_disks(conn: libvirt.virConnect) -> None:
    source = conn.lookupByName("web")
    steps: list[str] = []
    made = clone_guest(conn, source.UUIDString(), "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.COPY},
                       progress=steps.append)
    assert steps == ["Making a linked clone of vda…", "Copying vdb (1.0 GiB)…", "Defining the clone…"]
    clone = DomainXml(conn.lookupByUUIDString(made.uuid).XMLDesc(0))
    assert made.uuid != source.UUIDString() and clone.interfaces[0].mac != "52:54:00:aa:bb:cc"
    paths = {d.target_dev: d.source_path for d in clone.disks}
    assert paths == {"vda": "/default-pool/web-clone-vda.qcow2", "vdb": "/default-pool/web-clone-vdb.img",
                     "sda": "/isos/debian.iso", "vdc": "/elsewhere/scratch.img"}
    assert backing_file(conn, "/default-pool/web-clone-vda.qcow2") == "/default-pool/web.qcow2"
    assert backing_file(conn, "/default-pool/web-clone-vdb.img") is None  # a copy stands alone
    assert sorted(volumes(conn)) == ["data.img", "web-clone-vda.qcow2", "web-clone-vdb.img", "web.qcow2"]
    # the source is untouched
    assert [d.source_path for d in DomainXml(source.XMLDesc(0)).disks][:2] == ["/default-pool/web.qcow2",
                                                                               "/default-pool/data.img"]


def test_protecting_the_base_gives_the_source_an_overlay_too(conn: libvirt.virConnect) -> None:
    source = conn.lookupByName("web")
    clone_guest(conn, source.UUIDString(), "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE},
                protect_base=True)
    source_xml = DomainXml(source.XMLDesc(0))
    assert source_xml.uuid == "11111111-2222-3333-4444-555555555555"  # the same guest, its MAC kept
    assert source_xml.interfaces[0].mac == "52:54:00:aa:bb:cc"
    assert source_xml.disks[0].source_path == "/default-pool/web-top-vda.qcow2"
    assert backing_file(conn, "/default-pool/web-top-vda.qcow2") == "/default-pool/web.qcow2"
    assert source_xml.disks[1].source_path == "/default-pool/data.img"


def test_impossible_modes_and_taken_names_are_refused_before_anything_is_made(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    with pytest.raises(VmguiError, match="A guest named 'test' already exists"):
        clone_guest(conn, uuid, "test", {})
    with pytest.raises(VmguiError, match=r"vdc: copy is not possible \(the disk is in no storage pool"):
        clone_guest(conn, uuid, "web-clone", {"vdc": DiskMode.COPY})
    storage.create_volume(conn, "default-pool", "web-clone-vdb.img", storage.GIB, "raw")
    with pytest.raises(VmguiError, match=r"already has a disk image named 'web-clone-vdb\.img'"):
        clone_guest(conn, uuid, "web-clone", {"vda": DiskMode.COPY, "vdb": DiskMode.COPY})
    # the copy of vda made before the clash is gone again; the clashing image is not ours to remove
    assert sorted(volumes(conn)) == ["data.img", "web-clone-vdb.img", "web.qcow2"]
    assert "web-clone" not in [d.name() for d in conn.listAllDomains(0)]


class DefineFails:
    """The test host, but defining the clone fails (after its volumes were made)."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def defineXML(self, xml: str) -> libvirt.virDomain:
        if "<name>web-clone</name>" in xml:
            raise libvirt.libvirtError("injected: no space left on device")
        return self._conn.defineXML(xml)


def test_a_clone_that_fails_half_way_leaves_no_orphan(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    with pytest.raises(VmguiError, match="did not accept the clone's XML"):
        clone_guest(DefineFails(conn), uuid, "web-clone",  # type: ignore[arg-type]
                    {"vda": DiskMode.LINK, "vdb": DiskMode.COPY}, protect_base=True)
    assert sorted(volumes(conn)) == ["data.img", "web.qcow2"]
    assert "web-clone" not in [d.name() for d in conn.listAllDomains(0)]
    assert DomainXml(conn.lookupByName("web").XMLDesc(0)).disks[0].source_path == "/default-pool/web.qcow2"


def test_names() -> None:
    assert suggest_name("web", {"web-clone"}) == "web-clone-2"
    assert names_from_pattern("desk-{n:03}", 3, {"desk-002"}) == ["desk-001", "desk-003", "desk-004"]
    with pytest.raises(VmguiError, match=r"needs \{n\}"):
        names_from_pattern("desk", 2, set())
    with pytest.raises(VmguiError, match="letters, digits"):
        names_from_pattern("desk {n}", 1, set())


def test_a_uefi_guests_variables_are_copied_for_its_clone(conn: libvirt.virConnect) -> None:
    storage.create_volume(conn, "default-pool", "web-uefi_VARS.fd", 1 << 20, "raw")
    uefi = SOURCE.replace("<name>web</name>", "<name>web-uefi</name>").replace(
        "<uuid>11111111-2222-3333-4444-555555555555</uuid>", "").replace(
        "</type>", "</type><loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.fd</loader>"
                   "<nvram>/default-pool/web-uefi_VARS.fd</nvram>")
    source = conn.defineXML(uefi)
    made = clone_guest(conn, source.UUIDString(), "web-uefi-2", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE})
    clone = DomainXml(conn.lookupByUUIDString(made.uuid).XMLDesc(0))
    assert clone.element.findtext("os/nvram") == "/default-pool/web-uefi-2_VARS.fd"
    assert "web-uefi-2_VARS.fd" in volumes(conn) and "web-uefi_VARS.fd" in volumes(conn)


def test_every_nic_of_a_clone_gets_a_new_mac(conn: libvirt.virConnect) -> None:
    nics = "".join(f"<interface type='network'><mac address='52:54:00:00:00:0{i}'/><source network='default'/>"
                   "</interface>" for i in range(1, 4))
    source = conn.defineXML(SOURCE.replace("<name>web</name>", "<name>web-nics</name>").replace(
        "<uuid>11111111-2222-3333-4444-555555555555</uuid>", "").replace("<serial ", nics + "<serial "))
    source_macs = [nic.mac for nic in DomainXml(source.XMLDesc(0)).interfaces]
    assert len(source_macs) == 4  # the one of SOURCE and three more
    made = clone_guest(conn, source.UUIDString(), "web-nics-2", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE})
    macs = [nic.mac for nic in DomainXml(conn.lookupByUUIDString(made.uuid).XMLDesc(0)).interfaces]
    assert len(macs) == 4 and all(macs) and len(set(macs)) == 4
    assert not set(macs) & set(source_macs)


def test_a_source_protected_twice_gets_a_second_overlay_of_its_own(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("web").UUIDString()
    clone_guest(conn, uuid, "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE}, protect_base=True)
    clone_guest(conn, uuid, "web-clone-2", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE}, protect_base=True)
    assert DomainXml(conn.lookupByName("web").XMLDesc(0)).disks[0].source_path == "/default-pool/web-top2-vda.qcow2"
    assert backing_file(conn, "/default-pool/web-top2-vda.qcow2") == "/default-pool/web-top-vda.qcow2"
    second = DomainXml(conn.lookupByName("web-clone-2").XMLDesc(0)).disks[0].source_path
    assert second is not None and backing_file(conn, second) == "/default-pool/web-top-vda.qcow2"
