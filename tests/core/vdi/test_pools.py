"""Desktop pools on the test driver: provision linked clones, grow, shrink, assign, reset, recompose."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import libvirt
import pytest

from tests.core.vdi.test_golden import GUEST
from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.clone import backing_file
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest import read_guest
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.marks import DesktopMark
from vmgui.core.vdi.pool_specs import PoolSpec, find_pool, read_pools, save_pool


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
    save_pool(conn, spec)
    return spec


def test_a_pool_is_defined_on_its_golden_image_and_provisioned_as_linked_clones(conn: libvirt.virConnect) -> None:
    make_pool(conn, 3, memory_mib=512, vcpus=2)
    spec, = read_pools(conn)
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
    alice = desktops.assign_next_free(conn, "office", "alice")
    assert alice.name == "desk-001" and desktops.assign_next_free(conn, "office", "alice") == alice
    save_pool(conn, PoolSpec(**{**spec.__dict__, "size": 1}))
    left = pools.provision(conn, "office")
    assert [(d.name, d.user) for d in left] == [("desk-001", "alice")]  # the unassigned ones went first
    assert sorted(v.name for v in storage.list_volumes(conn, "default-pool")) == [
        "desk-001-vda.qcow2", "gold-golden-v1.qcow2", "gold.qcow2"]
    save_pool(conn, PoolSpec(**{**spec.__dict__, "size": 0}))
    with pytest.raises(VmguiError, match="Only 0 desktops of 'office' are unassigned"):
        pools.provision(conn, "office")
    desktops.assign(conn, alice.uuid, None)
    assert pools.provision(conn, "office") == []


def test_every_desktop_assigned_is_said(conn: libvirt.virConnect) -> None:
    make_pool(conn, 1)
    pools.provision(conn, "office")
    desktops.assign_next_free(conn, "office", "alice")
    with pytest.raises(VmguiError, match="Every desktop of 'office' is assigned"):
        desktops.assign_next_free(conn, "office", "bob")


def test_recompose_moves_free_desktops_now_and_the_others_at_their_next_reset(conn: libvirt.virConnect) -> None:
    spec = make_pool(conn, 3)
    first, second, _third = pools.provision(conn, "office")
    desktops.assign(conn, first.uuid, "alice")
    conn.lookupByUUIDString(second.uuid).create()
    v2 = golden.publish(conn, spec.golden_uuid, "updates")
    assert {d.version for d in desktops.desktops(conn, "office")} == {1}  # publishing alone moves nothing
    now, later = pools.recompose(conn, "office", 2)
    assert (now, later) == (["desk-003"], ["desk-001", "desk-002"])
    assert backing_file(conn, desktops.desktops(conn, "office")[2].disk) == v2.path
    assert find_pool(conn, "office").version == 2
    moved = desktops.reset(conn, first.uuid)  # alice's desktop moves at its next reset
    assert (moved.version, moved.user) == (2, "alice") and backing_file(conn, moved.disk) == v2.path
    assert [d.version for d in pools.provision(conn, "office")] == [2, 1, 2]
    with pytest.raises(VmguiError, match="no golden image version v7"):
        pools.recompose(conn, "office", 7)


def test_prestarted_desktops_run_unassigned_and_go_first_to_a_new_user(conn: libvirt.virConnect) -> None:
    make_pool(conn, 3, prestarted=1)
    pools.provision(conn, "office")
    assert pools.prestart(conn, "office") == ["desk-001"]
    assert pools.prestart(conn, "office") == []  # already one running
    conn.lookupByName("desk-003").create()
    bob = desktops.assign_next_free(conn, "office", "bob")
    assert bob.name == "desk-001" and bob.running  # a running free desktop first: no wait for a boot
    assert pools.prestart(conn, "office") == []  # desk-003 runs free already
    with pytest.raises(VmguiError, match="Between 0 and 3 desktops can be pre-started"):
        save_pool(conn, PoolSpec("office", find_pool(conn, "office").golden_uuid, 3, "desk-{n:03}", prestarted=4))


def test_a_reset_on_shutdown_desktop_goes_back_to_the_image_when_it_stops_and_before_it_starts(
        conn: libvirt.virConnect) -> None:
    make_pool(conn, 2, mode="reset")
    first, second = pools.provision(conn, "office")
    pool = conn.storagePoolLookupByName("default-pool")
    overlay = pool.storageVolLookupByName("desk-001-vda.qcow2")
    key = overlay.key()
    desktops.start(conn, first.uuid)
    assert desktops.after_stop(conn, first.uuid) is None  # still running: nothing to do
    conn.lookupByUUIDString(first.uuid).destroy()
    reset = desktops.after_stop(conn, first.uuid)
    assert reset is not None and reset.disk == first.disk and backing_file(conn, reset.disk) == first.disk.replace(
        "desk-001-vda.qcow2", "gold-golden-v1.qcow2")
    assert desktops.resets_on_shutdown(conn, second.uuid)
    assert not desktops.resets_on_shutdown(conn, conn.lookupByName("gold").UUIDString())
    assert key  # the overlay was replaced by a fresh one of the same name
    started = desktops.start(conn, second.uuid)
    assert started.running and desktops.start(conn, second.uuid).running  # a running desktop is left alone


def test_a_persistent_desktop_is_not_reset_when_it_stops(conn: libvirt.virConnect) -> None:
    make_pool(conn, 1)
    desktop, = pools.provision(conn, "office")
    dom = conn.lookupByUUIDString(desktop.uuid)
    dom.create()
    dom.destroy()
    assert desktops.after_stop(conn, desktop.uuid) is None


def test_a_copy_of_a_users_desktop_is_outside_the_pool_and_a_linked_copy_blocks_the_reset(
        conn: libvirt.virConnect) -> None:
    make_pool(conn, 1)
    desktop, = pools.provision(conn, "office")
    desktops.assign(conn, desktop.uuid, "alice")
    full = desktops.copy_desktop(conn, desktop.uuid, "desk-001-debug", linked=False)
    copy = conn.lookupByUUIDString(full)
    assert desktops.read_desktop(copy) is None and copy.name() == "desk-001-debug"
    assert [d.name for d in desktops.desktops(conn, "office")] == ["desk-001"]
    linked = desktops.copy_desktop(conn, desktop.uuid, "desk-001-linked", linked=True)
    linked_disk = DomainXml(conn.lookupByUUIDString(linked).XMLDesc(0)).disks[0].source_path
    assert linked_disk is not None and backing_file(conn, linked_disk) == desktop.disk
    with pytest.raises(VmguiError, match=r"desk-001-linked-vda\.qcow2 build on its disk"):
        desktops.reset(conn, desktop.uuid)
    conn.lookupByUUIDString(desktop.uuid).create()
    with pytest.raises(VmguiError, match="shut it down first, or make a full copy"):
        desktops.copy_desktop(conn, desktop.uuid, "desk-001-linked2", linked=True)


def test_user_names_that_metadata_cannot_hold_are_refused(conn: libvirt.virConnect) -> None:
    make_pool(conn, 1)
    desktop, = pools.provision(conn, "office")
    with pytest.raises(VmguiError, match="Give the user's name"):
        desktops.assign(conn, desktop.uuid, "  ")
    with pytest.raises(VmguiError, match="not a user name vmgui can keep"):
        desktops.assign(conn, desktop.uuid, "a<b")
    assert desktops.assign(conn, desktop.uuid, " carol ").user == "carol"


def test_the_guest_list_knows_desktops_and_golden_images(conn: libvirt.virConnect) -> None:
    make_pool(conn, 1)
    desktop, = pools.provision(conn, "office")
    desktops.assign(conn, desktop.uuid, "alice")
    info = read_guest(conn.lookupByUUIDString(desktop.uuid))
    mark = DesktopMark("office", 1, "alice", desktop.disk, conn.lookupByName("gold").UUIDString())
    assert info.desktop == mark and not info.golden
    gold = read_guest(conn.lookupByName("gold"))
    assert gold.golden and gold.desktop is None


def test_removing_a_pool_removes_its_desktops_but_not_while_users_have_them(conn: libvirt.virConnect) -> None:
    make_pool(conn, 2)
    first, _second = pools.provision(conn, "office")
    desktops.assign(conn, first.uuid, "alice")
    with pytest.raises(VmguiError, match="still has desktops assigned to alice"):
        pools.remove_pool(conn, "office")
    assert pools.remove_pool(conn, "office", assigned_too=True) == ["desk-001", "desk-002"]
    assert read_pools(conn) == [] and desktops.desktops(conn) == []
    assert sorted(v.name for v in storage.list_volumes(conn, "default-pool")) == [
        "gold-golden-v1.qcow2", "gold.qcow2"]


def test_two_clients_growing_one_pool_together_make_it_exactly_full(conn: libvirt.virConnect) -> None:
    make_pool(conn, 12)
    clients = [libvirt.open("test:///default") for _ in range(2)]
    try:
        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(lambda c: pools.provision(c, "office"), clients))
    finally:
        for c in clients:
            c.close()
    names = [d.name for d in desktops.desktops(conn, "office")]
    assert names == [f"desk-{n:03}" for n in range(1, 13)] and all(results)
    overlays = [v.name for v in storage.list_volumes(conn, "default-pool") if v.name.startswith("desk-")]
    assert sorted(overlays) == [f"{n}-vda.qcow2" for n in names]  # nothing lost, no orphan


def test_reset_gives_a_fresh_overlay_and_recompose_moves_to_a_newer_version(conn: libvirt.virConnect) -> None:
    spec = make_pool(conn, 1)
    desktop, = pools.provision(conn, "office")
    desktops.assign(conn, desktop.uuid, "alice")
    dom = conn.lookupByUUIDString(desktop.uuid)
    dom.create()
    with pytest.raises(VmguiError, match="Shut desk-001 down first"):
        desktops.reset(conn, desktop.uuid)
    forced = desktops.reset(conn, desktop.uuid, force_off=True)  # turned off, then reset
    assert not forced.running and forced.user == "alice"
    dom.create()
    dom.destroy()
    again = desktops.reset(conn, desktop.uuid)
    assert (again.user, again.version, again.disk) == ("alice", 1, desktop.disk)
    v2 = golden.publish(conn, spec.golden_uuid, "updates")
    moved = desktops.reset(conn, desktop.uuid, v2)
    assert moved.version == 2 and backing_file(conn, moved.disk) == v2.path
    golden.retire(conn, spec.golden_uuid, 1)  # nothing builds on v1 any more
    with pytest.raises(VmguiError, match=r"v2 of gold is in use by desk-001-vda\.qcow2"):
        golden.retire(conn, spec.golden_uuid, 2)


def test_bad_pools_are_refused(conn: libvirt.virConnect) -> None:
    uuid = conn.lookupByName("gold").UUIDString()
    with pytest.raises(VmguiError, match="no published golden image"):
        save_pool(conn, PoolSpec("office", uuid, 2, "desk-{n}"))
    golden.publish(conn, uuid)
    with pytest.raises(VmguiError, match="needs"):
        save_pool(conn, PoolSpec("office", uuid, 2, "desk"))
    with pytest.raises(VmguiError, match="'persistent' or 'reset'"):
        save_pool(conn, PoolSpec("office", uuid, 2, "desk-{n}", mode="sometimes"))
    with pytest.raises(VmguiError, match="no desktop pool named 'nope'"):
        pools.provision(conn, "nope")


def test_a_desktop_that_another_client_undefines_meanwhile_is_left_out(conn: libvirt.virConnect,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    make_pool(conn, 3)
    pools.provision(conn, "office")
    listed = conn.listAllDomains

    def list_then_lose_one(flags: int = 0) -> list[libvirt.virDomain]:
        domains: list[libvirt.virDomain] = listed(flags)
        gone = next((d for d in domains if d.name() == "desk-002"), None)
        if gone is not None:
            gone.undefine()  # as another vmgui or virsh might, between the listing and the reads
        return domains

    monkeypatch.setattr(conn, "listAllDomains", list_then_lose_one)
    assert [d.name for d in desktops.desktops(conn, "office")] == ["desk-001", "desk-003"]
    assert [p.name for p in read_pools(conn)] == ["office"]
    assert [g.name for g in golden.golden_images(conn)] == ["gold"]
