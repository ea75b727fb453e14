"""Golden images on a real libvirtd: a published version is a read-only file that desktops build on."""

from __future__ import annotations

import os
import stat

import libvirt
import pytest

from vmgui.core import storage
from vmgui.core.errors import VmguiError
from vmgui.core.vdi import golden


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
