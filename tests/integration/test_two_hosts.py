"""A pool on two hosts: its golden version copied to the other host (byte for byte), desktops there, recompose."""

from __future__ import annotations

import asyncio
import os
import stat

import libvirt
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from tests.integration.conftest import PREFIX, image_info, remove_pool_and_versions
from tests.integration.ssh_host import second_host_uri, ssh_system_uri  # noqa: F401  (the fixtures)
from tests.integration.test_golden import sha256
from vmgui.core import storage
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.guest_delete import delete_guest, disks_of
from vmgui.core.vdi import desktops, golden, pools, replicas
from vmgui.core.vdi.pool_specs import PoolSpec, read_pools, save_pool
from vmgui.ui.vdi.pools_window import PoolsWindow


def test_a_pool_lives_on_a_second_host_on_a_copy_of_its_golden_version(
        system_uri: str, second_host_uri: str, disk_guest: str) -> None:  # noqa: F811
    home, other = libvirt.open(system_uri), libvirt.open(second_host_uri)
    pool = f"it-two-{os.getpid()}"
    try:
        v1 = golden.publish(home, disk_guest, "two hosts")
        save_pool(home, PoolSpec(pool, disk_guest, 1, f"{PREFIX}two-{{n}}-{os.getpid()}"))
        pools.provision(home, pool)
        steps: list[str] = []
        there = replicas.extend_pool_to(home, pool, other, 2, progress=steps.append)
        assert len(there) == 2 and any("Copying" in s for s in steps)
        name = home.lookupByUUIDString(disk_guest).name()
        replica = other.lookupByName(name)  # the image's copy on the other host
        assert golden.replica_of(replica) == disk_guest
        image = golden.read_golden(replica)
        assert image is not None and [v.number for v in image.versions] == [v1.number]
        copy = image.versions[0].path
        assert copy != v1.path and copy.startswith("/home/vmgui-it-host2/")
        assert sha256(copy) == sha256(v1.path) and stat.S_IMODE(os.stat(copy).st_mode) == 0o444
        assert all(image_info(d.disk)["backing-filename"] == copy for d in there)
        assert {d.pool for d in there} == {pool} and all(d.user is None for d in there)
        uuids = {d.uuid for d in there}
        assert {d.uuid for d in replicas.extend_pool_to(home, pool, other, 2)} == uuids  # nothing new
        # a new version at home, the home pool recomposed onto it: the other host follows
        v2 = golden.publish(home, disk_guest, "updates")
        pools.recompose(home, pool, v2.number)
        moved = replicas.extend_pool_to(home, pool, other, 2)
        image = golden.read_golden(other.lookupByName(name))
        assert image is not None and [v.number for v in image.versions] == [v1.number, v2.number]
        assert {d.version for d in moved} == {v2.number} and {d.uuid for d in moved} == uuids
        assert all(image_info(d.disk)["backing-filename"] == image.versions[1].path for d in moved)
        golden.retire(other, image.source_uuid, v1.number)  # nothing builds on v1 there any more
    finally:
        _remove_from_both(home, other, pool, disk_guest)


def _remove_from_both(home: libvirt.virConnect, other: libvirt.virConnect, pool: str, disk_guest: str) -> None:
    """The pool on both hosts, the image's copy on the other, the versions at home; both connections closed."""
    if any(p.name == pool for p in read_pools(other)):
        pools.remove_pool(other, pool, assigned_too=True)
    _remove_replica(other, home.lookupByUUIDString(disk_guest).name())
    remove_pool_and_versions(home, pool, disk_guest)
    other.close()
    home.close()


def _remove_replica(conn: libvirt.virConnect, name: str) -> None:
    """The image's copy on the other host, its disk and its versions."""
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    assert desktops.desktops(conn) == []  # none left: the pool is gone
    image = golden.read_golden(dom)
    delete_guest(conn, dom.UUIDString(), [d.path for d in disks_of(conn, dom) if not d.protected])
    for version in image.versions if image else ():
        storage.delete_volume(conn, version.path)


def test_the_pools_window_adds_a_host_to_a_pool(system_uri: str, second_host_uri: str, disk_guest: str,  # noqa: F811
                                               aloop: asyncio.AbstractEventLoop, qtbot: QtBot) -> None:
    home, other = libvirt.open(system_uri), libvirt.open(second_host_uri)
    pool = f"it-ui-{os.getpid()}"
    manager = ConnectionManager(stats_interval=0)
    try:
        golden.publish(home, disk_guest, "ui")
        save_pool(home, PoolSpec(pool, disk_guest, 1, f"{PREFIX}ui-{{n}}-{os.getpid()}"))
        pools.provision(home, pool)
        window = PoolsWindow(manager, lambda *_a, **_k: None)  # type: ignore[arg-type,return-value]
        qtbot.addWidget(window)
        here, there = manager.add(system_uri), manager.add(second_host_uri)
        for conn in (here, there):
            run(conn.connect(), timeout=60)
        window.show()
        wait_until(lambda: any(s.name == pool for _c, s in window.specs), timeout=30, what="the pool listed")
        window.choose_pool(pool)
        wait_until(window.extend_button.isEnabled, what="Add a Host enabled (two hosts connected)")
        spec = next(s for c, s in window.specs if s.name == pool)
        assert run(window.extend_pool(here, spec, there, 2), timeout=120)
        assert window.status.text() == f"{pool} has 2 desktops on {there.name} now."
        wait_until(lambda: sum(1 for c, s in window.specs if s.name == pool) == 2, timeout=30,
                   what="the pool on both hosts")
        names = [window.pool_box.itemText(i) for i in range(window.pool_box.count())]
        assert any(n.startswith(f"{pool} on ") for n in names)  # several hosts: each says where it lives
        window.pool_box.setCurrentIndex(0)  # every pool: both hosts' desktops together
        wait_until(lambda: sum(1 for r in range(window.table_model.rowCount())
                               if (item := window.table_model.desktop_at(r)) and item[1].desktop
                               and item[1].desktop.pool == pool) == 3, timeout=30, what="three desktops")
    finally:
        run(manager.close_all())
        _remove_from_both(home, other, pool, disk_guest)
