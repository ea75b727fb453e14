"""Golden images on a real libvirtd: a published version is a read-only file that desktops build on."""

from __future__ import annotations

import hashlib
import os
import stat

import libvirt
import pytest

from tests.helpers import wait_until
from tests.integration.conftest import PREFIX, image_info, serial_text
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


def test_a_pool_desktop_boots_on_its_overlay_and_a_reset_empties_it(system_uri: str, disk_guest: str) -> None:
    conn = libvirt.open(system_uri)
    try:
        version = golden.publish(conn, disk_guest, "for the pool")
        before = sha256(version.path)
        save_pool(conn, PoolSpec("it-pool", disk_guest, 2, f"{PREFIX}desk-{{n:02}}-{os.getpid()}"))
        first, second = pools.provision(conn, "it-pool")
        dom = conn.lookupByUUIDString(first.uuid)
        dom.create()
        wait_until(lambda: "VMGUI-TINY-GUEST READY" in serial_text(dom), timeout=150, what="the desktop booted")
        dom.destroy()
        reset = desktops.reset(conn, first.uuid)
        assert reset.disk == first.disk and image_info(reset.disk)["backing-filename"] == version.path
        assert sha256(version.path) == before  # the golden image is never written
        for desktop in (first, second):
            conn.lookupByUUIDString(desktop.uuid).undefine()
            storage.delete_volume(conn, desktop.disk)
        golden.retire(conn, disk_guest, version.number)
    finally:
        conn.close()
