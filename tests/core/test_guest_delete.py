"""Deleting guests with their storage on the test driver: protected disks stay, a base with children stays."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest

from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.clone import DiskMode, clone_guest
from vmgui.core.errors import VmguiError
from vmgui.core.guest_delete import delete_guest, disks_of

GUEST = """<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='/default-pool/{name}.qcow2'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/>
      <source file='/default-pool/shared.img'/><target dev='vdb' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/default-pool/debian.iso'/><target dev='sda' bus='sata'/>
      <readonly/></disk>
  </devices></domain>"""


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")
    for name in ("gold.qcow2", "other.qcow2"):
        storage.create_volume(c, "default-pool", name, storage.GIB)
    storage.create_volume(c, "default-pool", "shared.img", storage.GIB, "raw")
    storage.create_volume(c, "default-pool", "debian.iso", storage.GIB, "raw")
    c.defineXML(GUEST.format(name="gold"))
    c.defineXML(GUEST.format(name="other"))  # uses shared.img too
    yield c
    remove_guests(c, lambda n: n in ("gold", "other", "desk-1"))
    remove_volumes(c, "default-pool")
    c.close()


def volumes(conn: libvirt.virConnect) -> list[str]:
    return sorted(v.name for v in storage.list_volumes(conn, "default-pool"))


def test_each_disk_says_whether_it_may_go(conn: libvirt.virConnect) -> None:
    disks = {d.target: d for d in disks_of(conn, conn.lookupByName("gold"))}
    assert disks["vda"].delete_by_default and disks["vda"].protected == ""
    assert disks["vdb"].protected == "the guest 'other' uses it too"
    assert disks["sda"].protected == "install media is kept"


def test_a_guest_and_its_own_image_go_shared_files_stay(conn: libvirt.virConnect) -> None:
    gold = conn.lookupByName("gold")
    gold.create()
    deleted = delete_guest(conn, gold.UUIDString(), ["/default-pool/gold.qcow2"])
    assert deleted == ["/default-pool/gold.qcow2"]
    assert "gold" not in [d.name() for d in conn.listAllDomains(0)]
    assert volumes(conn) == ["debian.iso", "other.qcow2", "shared.img"]


def test_protected_paths_are_refused_before_anything_is_removed(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("gold").UUIDString()
    with pytest.raises(VmguiError, match=r"shared\.img stays: the guest 'other' uses it too"):
        delete_guest(conn, uuid, ["/default-pool/gold.qcow2", "/default-pool/shared.img"])
    with pytest.raises(VmguiError, match="is not a disk of this guest"):
        delete_guest(conn, uuid, ["/default-pool/other.qcow2"])
    assert "gold" in [d.name() for d in conn.listAllDomains(0)] and "gold.qcow2" in volumes(conn)


def test_a_base_with_linked_clones_is_kept_and_deleting_a_clone_keeps_the_base(conn: libvirt.virConnect) -> None:
    gold = conn.lookupByName("gold")
    clone = clone_guest(conn, gold.UUIDString(), "desk-1", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE})
    disks = {d.target: d for d in disks_of(conn, gold)}
    assert disks["vda"].protected == "other disk images build on it (desk-1-vda.qcow2)"
    with pytest.raises(VmguiError, match=r"gold\.qcow2 stays: other disk images build on it"):
        delete_guest(conn, gold.UUIDString(), ["/default-pool/gold.qcow2"])
    delete_guest(conn, clone.uuid, ["/default-pool/desk-1-vda.qcow2"])
    assert "gold.qcow2" in volumes(conn) and "desk-1-vda.qcow2" not in volumes(conn)
    assert {d.target: d for d in disks_of(conn, gold)}["vda"].protected == ""  # no child left: it may go now


def test_read_only_shareable_iso_and_unpooled_disks_are_protected(conn: libvirt.virConnect) -> None:
    for name in ("ro.qcow2", "cluster.img", "installer.iso"):
        storage.create_volume(conn, "default-pool", name, storage.GIB, "raw")
    dom = conn.defineXML("""<domain type='test'><name>desk-1</name><memory unit='MiB'>128</memory>
      <os><type arch='i686'>hvm</type></os><devices>
      <disk type='file' device='disk'><source file='/default-pool/ro.qcow2'/><target dev='vda'/><readonly/></disk>
      <disk type='file' device='disk'><source file='/default-pool/cluster.img'/><target dev='vdb'/><shareable/></disk>
      <disk type='file' device='disk'><source file='/default-pool/installer.iso'/><target dev='vdc'/></disk>
      <disk type='file' device='disk'><source file='/srv/elsewhere.img'/><target dev='vdd'/></disk>
      </devices></domain>""")
    disks = {d.target: (d.delete_by_default, d.protected) for d in disks_of(conn, dom)}
    assert disks == {"vda": (False, "it is read-only or shared"), "vdb": (False, "it is read-only or shared"),
                     "vdc": (False, "install media is kept"), "vdd": (False, "it is in no storage pool")}
    for path in ("/default-pool/ro.qcow2", "/default-pool/cluster.img", "/default-pool/installer.iso"):
        with pytest.raises(VmguiError, match="stays"):
            delete_guest(conn, dom.UUIDString(), [path])
    assert delete_guest(conn, dom.UUIDString(), []) == []  # the guest alone goes
    assert {"ro.qcow2", "cluster.img", "installer.iso"} <= set(volumes(conn))
