"""Golden images on a real libvirtd: a published version is a read-only file that desktops build on."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys

import libvirt
import pytest

from tests.helpers import wait_until
from tests.integration.conftest import PREFIX, image_info, remove_pool_and_versions, serial_text
from vmgui.core import storage
from vmgui.core.errors import VmguiError
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.pool_specs import PoolSpec, save_pool


def test_a_published_version_is_read_only_and_kept_while_a_desktop_builds_on_it(system_uri: str,
                                                                                 disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    try:
        v1 = golden.publish(conn, disk_guest, "first")
        assert stat.S_IMODE(os.stat(v1.path).st_mode) == 0o444  # nobody writes a golden image
        base = storage.find_volume(conn, v1.path)
        assert base is not None and base.format == "qcow2"
        desk = storage.create_overlay(conn, base, "golden-desk-1.qcow2")
        with pytest.raises(VmguiError, match="in use by golden-desk-1"):
            golden.retire(conn, disk_guest, 1)
        storage.delete_volume(conn, desk.path)
        golden.retire(conn, disk_guest, 1)
        assert not os.path.exists(v1.path)
        image = golden.read_golden(conn.lookupByUUIDString(disk_guest))
        assert image is not None and image.versions == ()
    finally:
        conn.close()


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def qemu_io(path: str, command: str, *, shared: bool = False) -> subprocess.CompletedProcess[str]:
    """Run a qemu-io command on an image (`shared`: while a guest has it open)."""
    return subprocess.run(["qemu-io", "-f", "qcow2", *(["-r", "-U"] if shared else []), "-c", command, path],
                          capture_output=True, text=True, check=False)


def used(path: str) -> int:
    return int(str(image_info(path)["actual-size"]))


def test_a_pool_of_five_boots_resets_to_an_empty_overlay_and_recomposes_without_writing_golden_images(
        system_uri: str, disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    pool = f"it-pool-{os.getpid()}"
    try:
        v1 = golden.publish(conn, disk_guest, "for the pool")
        v1_sum = sha256(v1.path)
        save_pool(conn, PoolSpec(pool, disk_guest, 5, f"{PREFIX}desk-{{n:02}}-{os.getpid()}"))
        made = pools.provision(conn, pool)
        assert len(made) == 5 and len({d.uuid for d in made}) == 5
        assert all(image_info(d.disk)["backing-filename"] == v1.path for d in made)
        first = made[0]
        dom = conn.lookupByUUIDString(first.uuid)
        desktops.start(conn, first.uuid)
        wait_until(lambda: "VMGUI-TINY-GUEST READY" in serial_text(dom), timeout=150, what="the desktop booted")
        dom.destroy()
        empty = used(first.disk)
        # the user's changes: 16 MiB written into the desktop's disk (the tiny guest has no disk driver)
        assert qemu_io(first.disk, "write -P 0x33 0 16M").returncode == 0
        assert used(first.disk) >= empty + 16 * 2**20
        desktops.assign(conn, first.uuid, "alice")
        reset = desktops.reset(conn, first.uuid)
        assert used(reset.disk) <= empty + 2**20 and reset.user == "alice"  # an empty overlay again, still hers
        assert "Pattern verification failed" in qemu_io(reset.disk, "read -P 0x33 0 16M").stdout  # changes gone
        assert sha256(v1.path) == v1_sum  # booting and resetting never wrote the golden image

        v2 = golden.publish(conn, disk_guest, "updates")
        now, later = pools.recompose(conn, pool, v2.number)
        assert later == [first.name] and len(now) == 4  # alice's desktop moves at its next reset
        assert [image_info(d.disk)["backing-filename"] for d in desktops.desktops(conn, pool)[1:]] == [v2.path] * 4
        assert desktops.reset(conn, first.uuid).version == v2.number
        assert (sha256(v1.path), stat.S_IMODE(os.stat(v2.path).st_mode)) == (v1_sum, 0o444)
        golden.retire(conn, disk_guest, v1.number)  # nothing builds on v1 any more
    finally:
        remove_pool_and_versions(conn, pool, disk_guest)
        conn.close()


def test_a_reset_on_shutdown_desktop_is_fresh_after_the_guest_powers_off(system_uri: str, disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    pool = f"it-reset-{os.getpid()}"
    try:
        golden.publish(conn, disk_guest, "kiosk image")
        save_pool(conn, PoolSpec(pool, disk_guest, 1, f"{PREFIX}kiosk-{{n}}-{os.getpid()}", mode="reset"))
        desktop, = pools.provision(conn, pool)
        dom = conn.lookupByUUIDString(desktop.uuid)
        assert qemu_io(desktop.disk, "write -P 0x44 0 8M").returncode == 0  # left over from a session
        desktops.start(conn, desktop.uuid)  # a reset pool's desktop starts from the image
        assert "Pattern verification failed" in qemu_io(desktop.disk, "read -P 0x44 0 8M", shared=True).stdout
        wait_until(lambda: "VMGUI-TINY-GUEST READY" in serial_text(dom), timeout=150, what="booted")
        dom.shutdown()  # the ACPI power button: the tiny guest powers itself off
        wait_until(lambda: not dom.isActive(), timeout=60, what="powered off")
        assert qemu_io(desktop.disk, "write -P 0x55 0 8M").returncode == 0
        assert desktops.after_stop(conn, desktop.uuid) is not None  # what vmgui does when it sees it stop
        assert "Pattern verification failed" in qemu_io(desktop.disk, "read -P 0x55 0 8M").stdout
    finally:
        remove_pool_and_versions(conn, pool, disk_guest)
        conn.close()


GROW = """
import sys, libvirt
from vmgui.core.vdi import pools
conn = libvirt.open(sys.argv[1])
sys.stdin.readline()  # both processes start together
print(len(pools.provision(conn, sys.argv[2])))
"""


def test_two_processes_provisioning_one_pool_make_it_exactly_full(system_uri: str, disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    pool = f"it-race-{os.getpid()}"
    try:
        golden.publish(conn, disk_guest, "race")
        save_pool(conn, PoolSpec(pool, disk_guest, 16, f"{PREFIX}race-{{n:02}}-{os.getpid()}"))
        procs = [subprocess.Popen([sys.executable, "-c", GROW, system_uri, pool], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = [proc.communicate(timeout=120) for proc in procs]
        assert [proc.returncode for proc in procs] == [0, 0], results
        have = desktops.desktops(conn, pool)
        assert [d.name for d in have] == [f"{PREFIX}race-{n:02}-{os.getpid()}" for n in range(1, 17)]
        volume = storage.find_volume(conn, have[0].disk)
        assert volume is not None
        overlays = [v.path for v in storage.list_volumes(conn, volume.pool) if "race-" in v.name]
        assert sorted(overlays) == sorted(d.disk for d in have)  # no orphan overlay, none lost
    finally:
        remove_pool_and_versions(conn, pool, disk_guest)
        conn.close()
