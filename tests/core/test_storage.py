"""Storage pools and volumes on the test driver: listing, creating and removing disk images."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from vmgui.core import storage
from vmgui.core.errors import VmguiError


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")  # shared by the process while any connection is open: clean up
    yield c
    for vol in storage.list_volumes(c, "default-pool"):
        storage.delete_volume(c, vol.path)
    c.close()


def test_pools_are_listed_with_their_space(conn: libvirt.virConnect) -> None:
    pool, = storage.list_pools(conn)
    assert (pool.name, pool.type, pool.active, pool.path) == ("default-pool", "dir", True, "/default-pool")
    assert pool.capacity > 0 and 0 < pool.available <= pool.capacity and pool.holds_files


def test_a_new_image_is_made_listed_and_removed(conn: libvirt.virConnect) -> None:
    made = storage.create_volume(conn, "default-pool", "guest-1.qcow2", 20 * storage.GIB)
    assert (made.path, made.capacity, made.format) == ("/default-pool/guest-1.qcow2", 20 * storage.GIB, "qcow2")
    assert [v.name for v in storage.list_volumes(conn, "default-pool")] == ["guest-1.qcow2"]
    found = storage.find_volume(conn, made.path)
    assert found is not None and found.pool == "default-pool"
    assert storage.delete_volume(conn, made.path)
    assert storage.list_volumes(conn, "default-pool") == []
    assert not storage.delete_volume(conn, made.path)  # already gone
    assert storage.find_volume(conn, made.path) is None


@pytest.mark.parametrize(("pool", "name", "size", "message"), [
    ("default-pool", "", 1, "needs a name"),
    ("default-pool", "../etc/passwd", 1, "cannot name a disk image"),
    ("default-pool", "ok.qcow2", 0, "larger than 0"),
    ("no-such-pool", "ok.qcow2", 1, "no storage pool named 'no-such-pool'"),
])
def test_bad_requests_are_refused_with_a_reason(conn: libvirt.virConnect, pool: str, name: str, size: int,
                                                message: str) -> None:
    with pytest.raises(VmguiError, match=message):
        storage.create_volume(conn, pool, name, size)
    assert storage.list_volumes(conn, "default-pool") == []


def test_a_taken_name_or_too_little_space_is_refused(conn: libvirt.virConnect) -> None:
    storage.create_volume(conn, "default-pool", "taken.qcow2", storage.GIB)
    with pytest.raises(VmguiError, match=r"already has a disk image named 'taken\.qcow2'"):
        storage.create_volume(conn, "default-pool", "taken.qcow2", storage.GIB)
    free = storage.pool_info(conn, "default-pool").available
    with pytest.raises(VmguiError, match="GiB free, less than"):
        storage.create_volume(conn, "default-pool", "huge.img", free + storage.GIB, "raw")
    assert [v.name for v in storage.list_volumes(conn, "default-pool")] == ["taken.qcow2"]


def test_the_default_pool_is_made_where_virt_manager_keeps_images(tmp_path: Path) -> None:
    assert storage.default_pool_path(session=False) == "/var/lib/libvirt/images"
    assert storage.default_pool_path(session=True).endswith("/.local/share/libvirt/images")
    (tmp_path / "host.xml").write_text("<node/>")
    conn = libvirt.open(f"test://{tmp_path / 'host.xml'}")  # a host with no pool at all
    assert storage.list_pools(conn) == []
    made = storage.create_default_pool(conn, str(tmp_path / "images"))
    assert (made.name, made.type, made.active, made.path) == ("default", "dir", True, str(tmp_path / "images"))
    assert conn.storagePoolLookupByName("default").autostart() == 1
    with pytest.raises(VmguiError, match="already has a storage pool named 'default'"):
        storage.create_default_pool(conn, "/elsewhere")


def test_an_image_files_format_comes_from_its_bytes_not_its_name(tmp_path: Path) -> None:
    qcow2_named_img = tmp_path / "disk.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(qcow2_named_img), "1M"], check=True)
    vmdk = tmp_path / "disk.raw"
    subprocess.run(["qemu-img", "create", "-q", "-f", "vmdk", str(vmdk), "1M"], check=True)
    raw_named_qcow2 = tmp_path / "disk.qcow2"
    raw_named_qcow2.write_bytes(bytes(4096))
    assert storage.probe_format(str(qcow2_named_img)) == "qcow2"
    assert storage.probe_format(str(vmdk)) == "vmdk"
    assert storage.probe_format(str(raw_named_qcow2)) == "raw"
    assert storage.probe_format(str(tmp_path / "missing.img")) is None
