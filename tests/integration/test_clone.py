"""Cloning on a real libvirtd + QEMU: a full copy and a linked clone of a guest's qcow2 disk, both boot."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.guest.build_tiny_guest import TinyGuestFiles
from tests.guest.tiny_guest import domain_xml, qemu_runs_as_for
from tests.helpers import remove_guests, wait_until
from tests.integration.conftest import PREFIX
from vmgui.core import storage
from vmgui.core.clone import DiskMode, clone_guest
from vmgui.core.domain_xml import Disk, DomainXml


def image_info(path: str) -> dict[str, object]:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], capture_output=True, text=True,
                         check=True).stdout
    info: dict[str, object] = json.loads(out)
    return info


def serial_text(dom: libvirt.virDomain) -> str:
    log = ET.fromstring(dom.XMLDesc(0)).find("devices/serial/log")
    try:
        return Path(log.get("file", "")).read_text(errors="replace") if log is not None else ""
    except OSError:
        return ""


@pytest.fixture(scope="module")
def source(system_uri: str, tiny_files: TinyGuestFiles, scratch_pool: storage.PoolInfo) -> Iterator[str]:
    """A shut-off tiny guest with a 1 GiB qcow2 data disk in the scratch pool: its UUID."""
    conn = libvirt.open(system_uri)
    name = f"{PREFIX}clonesrc-{os.getpid()}"
    disk_volume = storage.create_volume(conn, scratch_pool.name, f"{name}.qcow2", storage.GIB)
    logdir = Path(scratch_pool.path or "")
    dom = DomainXml(domain_xml(name, tiny_files, serial_log=logdir / f"{name}.serial.log",
                               qemu_runs_as=qemu_runs_as_for(system_uri)))
    disk = dom.add_device(Disk.new(type="file", device="disk"))
    disk.element.append(disk.element.makeelement("driver", {"name": "qemu", "type": "qcow2"}))
    disk.set_file(disk_volume.path)
    disk.target_dev, disk.target_bus = "vda", "virtio"
    uuid = conn.defineXML(dom.to_xml()).UUIDString()
    conn.close()  # idle connections meet libvirt's keepalive timeout
    yield uuid
    conn = libvirt.open(system_uri)
    remove_guests(conn, lambda n: n.startswith(name) or n.startswith(f"{PREFIX}clone-"))
    conn.close()


def test_full_and_linked_clones_boot_and_the_linked_one_builds_on_the_source(
        system_uri: str, source: str, scratch_pool: storage.PoolInfo) -> None:
    conn = libvirt.open(system_uri)
    try:
        src = conn.lookupByUUIDString(source)
        src_disk = DomainXml(src.XMLDesc(0)).disks[0].source_path
        assert src_disk is not None
        pid = os.getpid()
        full = clone_guest(conn, source, f"{PREFIX}clone-full-{pid}", {"vda": DiskMode.COPY})
        linked = clone_guest(conn, source, f"{PREFIX}clone-linked-{pid}", {"vda": DiskMode.LINK})
        full_disk = DomainXml(conn.lookupByUUIDString(full.uuid).XMLDesc(0)).disks[0].source_path
        linked_disk = DomainXml(conn.lookupByUUIDString(linked.uuid).XMLDesc(0)).disks[0].source_path
        assert full_disk and linked_disk and len({src_disk, full_disk, linked_disk}) == 3
        assert "backing-filename" not in image_info(full_disk)
        linked_info = image_info(linked_disk)
        assert (linked_info["format"], linked_info["backing-filename"]) == ("qcow2", src_disk)
        for made in (full, linked):
            dom = conn.lookupByUUIDString(made.uuid)
            dom.create()
            wait_until(lambda d=dom: "VMGUI-TINY-GUEST READY" in serial_text(d), timeout=150,  # type: ignore[misc]
                       what=f"{made.name} booted")
            assert dom.isActive()
            dom.destroy()
        # the source's disk was never written by the clones
        assert "backing-filename" not in image_info(src_disk)
    finally:
        conn.close()
