"""What the New Guest wizard offers on a host, read in one call (test driver)."""

from __future__ import annotations

from pathlib import Path

import libvirt

from vmgui.core import storage
from vmgui.core.host_choices import read_host_choices


def test_one_call_reads_caps_pools_networks_names_and_images(tmp_path: Path) -> None:
    conn = libvirt.open("test:///default")
    try:
        storage.create_volume(conn, "default-pool", "debian.iso", storage.GIB, "raw")
        storage.create_volume(conn, "default-pool", "web.qcow2", 2 * storage.GIB)
        choices = read_host_choices(conn, "test:///default")
        assert choices.caps.virt_type == "test" and choices.local
        assert [p.name for p in choices.pools] == ["default-pool"] and choices.default_pool is not None
        assert [n.source for n in choices.networks] == ["default", None]  # its network, then user mode
        assert "test" in choices.taken_names
        assert [v.name for v in choices.isos] == ["debian.iso"] and [v.name for v in choices.images] == ["web.qcow2"]
        assert not read_host_choices(conn, "qemu+ssh://root@far/system").local
    finally:
        for vol in storage.list_volumes(conn, "default-pool"):
            storage.delete_volume(conn, vol.path)
        conn.close()
