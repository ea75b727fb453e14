"""Reset on shutdown: a desktop of a "reset" pool that stops, by any means, is put back to its golden image."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import libvirt
import pytest

from tests.core.vdi.test_golden import GUEST
from tests.helpers import remove_guests, remove_volumes, run, wait_until
from vmgui.core import storage
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.desktops import Desktop
from vmgui.core.vdi.pool_specs import PoolSpec, save_pool
from vmgui.core.vdi.reset_watch import ResetOnShutdown


@pytest.fixture
def raw() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")
    storage.create_volume(c, "default-pool", "gold.qcow2", storage.GIB)
    c.defineXML(GUEST)
    yield c
    remove_guests(c, lambda n: n == "gold" or n.startswith("desk-"))
    remove_volumes(c, "default-pool")
    c.close()


@pytest.fixture
def manager(aloop: asyncio.AbstractEventLoop, raw: libvirt.virConnect) -> Iterator[ConnectionManager]:
    m = ConnectionManager(stats_interval=0)
    yield m
    run(m.close_all())


def make(raw: libvirt.virConnect, name: str, mode: str) -> Desktop:
    uuid = raw.lookupByName("gold").UUIDString()
    if golden.read_golden(raw.lookupByName("gold")) is None:
        golden.publish(raw, uuid, "v1")
    save_pool(raw, PoolSpec(name, uuid, 1, f"desk-{name}-{{n}}", mode=mode))
    desktop, = pools.provision(raw, name)
    return desktop


def test_desktops_of_a_reset_pool_go_back_to_the_image_when_they_stop(raw: libvirt.virConnect,
                                                                       manager: ConnectionManager) -> None:
    lab, office = make(raw, "lab", "reset"), make(raw, "office", "persistent")
    for desktop in (lab, office):
        raw.lookupByUUIDString(desktop.uuid).create()
    v2 = golden.publish(raw, raw.lookupByName("gold").UUIDString(), "v2")
    for pool in ("lab", "office"):
        assert pools.recompose(raw, pool, v2.number)[1]  # running: they move at their next reset
    watch = ResetOnShutdown(manager)
    done: list[tuple[Connection, Desktop]] = []
    watch.reset_done.connect(lambda c, d: done.append((c, d)))
    conn = manager.add("test:///default")
    run(conn.connect())
    wait_until(lambda: conn.list_loaded, what="the guest list")
    for desktop in (lab, office):
        raw.lookupByUUIDString(desktop.uuid).destroy()  # behind vmgui's back, as a guest powering off
    wait_until(lambda: bool(done), what="the reset")
    run(watch.wait_idle())
    assert [(c, d.name, d.version) for c, d in done] == [(conn, "desk-lab-1", 2)]
    assert desktops.read_desktop(raw.lookupByUUIDString(office.uuid)).version == 1  # type: ignore[union-attr]
