"""Golden images on the test driver: publish versions, list them, refuse to retire a version in use."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest

from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.errors import VmguiError
from vmgui.core.vdi import golden

GUEST = """<domain type='test'><name>gold</name><memory unit='MiB'>128</memory>
  <os><type arch='i686'>hvm</type></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='/default-pool/gold.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>"""


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")
    storage.create_volume(c, "default-pool", "gold.qcow2", storage.GIB)
    c.defineXML(GUEST)
    yield c
    remove_guests(c, lambda n: n == "gold")
    remove_volumes(c, "default-pool")
    c.close()


def test_versions_are_published_listed_and_kept_in_the_guests_metadata(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("gold").UUIDString()
    v1 = golden.publish(conn, uuid, "base install")
    v2 = golden.publish(conn, uuid, "with updates")
    assert (v1.label, v1.path, v1.note) == ("v1", "/default-pool/gold-golden-v1.qcow2", "base install")
    assert v2.path == "/default-pool/gold-golden-v2.qcow2" and v2.created.endswith("+00:00")
    image, = golden.golden_images(conn)
    assert (image.name, [v.number for v in image.versions], image.latest) == ("gold", [1, 2], v2)
    assert "<vmgui:golden" in conn.lookupByName("gold").XMLDesc(0)  # in libvirt, for every vmgui to see
    assert golden.read_golden(conn.lookupByName("test")) is None


def test_a_running_guest_or_one_without_a_pool_disk_is_refused(conn: libvirt.virConnect) -> None:
    dom = conn.lookupByName("gold")
    dom.create()
    with pytest.raises(VmguiError, match="Shut gold down first"):
        golden.publish(conn, dom.UUIDString())
    dom.destroy()
    diskless = conn.defineXML(GUEST.replace("<name>gold</name>", "<name>gold-empty</name>").split("<devices>")[0]
                              + "<devices/></domain>")
    try:
        with pytest.raises(VmguiError, match="gold-empty has no disk to publish"):
            golden.publish(conn, diskless.UUIDString())
    finally:
        diskless.undefine()


def test_a_version_in_use_cannot_be_retired_and_numbers_are_never_reused(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("gold").UUIDString()
    v1 = golden.publish(conn, uuid)
    v2 = golden.publish(conn, uuid)
    base = storage.find_volume(conn, v2.path)
    assert base is not None
    storage.create_overlay(conn, base, "desk-001.qcow2")  # a desktop builds on v2
    assert golden.users(conn, v2) == ["desk-001.qcow2"] and golden.users(conn, v1) == []
    with pytest.raises(VmguiError, match=r"v2 of gold is in use by desk-001\.qcow2"):
        golden.retire(conn, uuid, 2)
    golden.retire(conn, uuid, 1)
    storage.delete_volume(conn, "/default-pool/desk-001.qcow2")
    golden.retire(conn, uuid, 2)
    assert storage.find_volume(conn, v2.path) is None
    image = golden.read_golden(conn.lookupByName("gold"))
    assert image is not None and image.versions == ()
    assert golden.publish(conn, uuid).number == 3
    with pytest.raises(VmguiError, match="no golden image version v9"):
        golden.retire(conn, uuid, 9)
