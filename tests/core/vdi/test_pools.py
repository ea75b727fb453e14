"""Desktop pools on the test driver: provision linked clones, grow, shrink, assign, reset, recompose."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest

from tests.core.vdi.test_golden import GUEST
from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.clone import backing_file
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.vdi import golden, pools
from vmgui.core.vdi.pools import PoolSpec


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")
    storage.create_volume(c, "default-pool", "gold.qcow2", storage.GIB)
    c.defineXML(GUEST.replace("<devices>", "<devices><interface type='network'><mac address='52:54:00:00:00:01'/>"
                                           "<source network='default'/></interface>"))
    yield c
    remove_guests(c, lambda n: n == "gold" or n.startswith("desk-"))
    remove_volumes(c, "default-pool")
    c.close()


def make_pool(conn: libvirt.virConnect, size: int = 3, **kw: object) -> PoolSpec:
    uuid = conn.lookupByName("gold").UUIDString()
    golden.publish(conn, uuid, "v1")
    spec = PoolSpec("office", uuid, size, "desk-{n:03}", **kw)  # type: ignore[arg-type]
    pools.save_pool(conn, spec)
    return spec


def test_a_pool_is_defined_on_its_golden_image_and_provisioned_as_linked_clones(conn: libvirt.virConnect) -> None:
    make_pool(conn, 3, memory_mib=512, vcpus=2)
    spec, = pools.read_pools(conn)
    assert (spec.name, spec.size, spec.memory_mib, spec.vcpus, spec.mode) == ("office", 3, 512, 2, "persistent")
    made = pools.provision(conn, "office")
    assert [d.name for d in made] == ["desk-001", "desk-002", "desk-003"]
    v1 = "/default-pool/gold-golden-v1.qcow2"
    for desktop in made:
        assert (desktop.pool, desktop.version, desktop.user) == ("office", 1, None)
        assert backing_file(conn, desktop.disk) == v1  # on the golden version, not on the source's disk
        xml = DomainXml(conn.lookupByUUIDString(desktop.uuid).XMLDesc(0))
        assert (xml.memory_mib, xml.vcpus) == (512, 2)
        assert xml.interfaces[0].mac != "52:54:00:00:00:01"
        assert "<vmgui:golden" not in xml.to_xml() and "<vmgui:pools" not in xml.to_xml()
    assert len({DomainXml(conn.lookupByUUIDString(d.uuid).XMLDesc(0)).interfaces[0].mac for d in made}) == 3


def test_grow_shrink_keeps_assigned_desktops(conn: libvirt.virConnect) -> None:
    spec = make_pool(conn, 3)
    pools.provision(conn, "office")
    alice = pools.assign_next_free(conn, "office", "alice")
    assert alice.name == "desk-001" and pools.assign_next_free(conn, "office", "alice") == alice
    pools.save_pool(conn, PoolSpec(**{**spec.__dict__, "size": 1}))
    left = pools.provision(conn, "office")
    assert [(d.name, d.user) for d in left] == [("desk-001", "alice")]  # the unassigned ones went first
    assert sorted(v.name for v in storage.list_volumes(conn, "default-pool")) == [
        "desk-001-vda.qcow2", "gold-golden-v1.qcow2", "gold.qcow2"]
    pools.save_pool(conn, PoolSpec(**{**spec.__dict__, "size": 0}))
    with pytest.raises(VmguiError, match="Only 0 desktops of 'office' are unassigned"):
        pools.provision(conn, "office")
    pools.assign(conn, alice.uuid, None)
    assert pools.provision(conn, "office") == []


def test_every_desktop_assigned_is_said(conn: libvirt.virConnect) -> None:
    make_pool(conn, 1)
    pools.provision(conn, "office")
    pools.assign_next_free(conn, "office", "alice")
    with pytest.raises(VmguiError, match="Every desktop of 'office' is assigned"):
        pools.assign_next_free(conn, "office", "bob")


def test_reset_gives_a_fresh_overlay_and_recompose_moves_to_a_newer_version(conn: libvirt.virConnect) -> None:
    spec = make_pool(conn, 1)
    desktop, = pools.provision(conn, "office")
    pools.assign(conn, desktop.uuid, "alice")
    dom = conn.lookupByUUIDString(desktop.uuid)
    dom.create()
    with pytest.raises(VmguiError, match="Shut desk-001 down first"):
        pools.reset(conn, desktop.uuid)
    dom.destroy()
    again = pools.reset(conn, desktop.uuid)
    assert (again.user, again.version, again.disk) == ("alice", 1, desktop.disk)
    v2 = golden.publish(conn, spec.golden_uuid, "updates")
    moved = pools.reset(conn, desktop.uuid, v2)
    assert moved.version == 2 and backing_file(conn, moved.disk) == v2.path
    golden.retire(conn, spec.golden_uuid, 1)  # nothing builds on v1 any more
    with pytest.raises(VmguiError, match=r"v2 of gold is in use by desk-001-vda\.qcow2"):
        golden.retire(conn, spec.golden_uuid, 2)


def test_bad_pools_are_refused(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("gold").UUIDString()
    with pytest.raises(VmguiError, match="no published golden image"):
        pools.save_pool(conn, PoolSpec("office", uuid, 2, "desk-{n}"))
    golden.publish(conn, uuid)
    with pytest.raises(VmguiError, match="needs"):
        pools.save_pool(conn, PoolSpec("office", uuid, 2, "desk"))
    with pytest.raises(VmguiError, match="'persistent' or 'reset'"):
        pools.save_pool(conn, PoolSpec("office", uuid, 2, "desk-{n}", mode="sometimes"))
    with pytest.raises(VmguiError, match="no desktop pool named 'nope'"):
        pools.provision(conn, "nope")
