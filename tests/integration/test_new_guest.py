"""New guests on a real libvirtd + QEMU: the tiny guest by direct kernel boot on a new qcow2 disk; cancel."""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import libvirt
import pytest

from tests.guest.build_tiny_guest import TinyGuestFiles
from tests.guest.tiny_guest import KERNEL_CMDLINE, qemu_runs_as_for, system_seclabel
from tests.helpers import remove_guests, remove_volumes, wait_until
from tests.integration.conftest import PREFIX
from vmgui.core import storage
from vmgui.core.domain_xml import DomainXml, Serial
from vmgui.core.guest_creator import CreationCancelled, create_guest, predicted_disk_path
from vmgui.core.host_caps import read_host_caps
from vmgui.core.install_tree import locate_tree
from vmgui.core.new_guest import DiskPlan, InstallMethod, NewGuestPlan, build_domain
from vmgui.core.osinfo import GENERIC


@pytest.fixture(scope="module")
def conn(system_uri: str) -> Iterator[libvirt.virConnect]:
    c = libvirt.open(system_uri)
    yield c
    c.close()


def read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def kernel_plan(name: str, tiny_files: TinyGuestFiles, scratch_pool: storage.PoolInfo) -> NewGuestPlan:
    return NewGuestPlan(name=name, method=InstallMethod.KERNEL, os=GENERIC, memory_mib=128, vcpus=1,
                        kernel=str(tiny_files.kernel), initrd=str(tiny_files.initrd), cmdline=KERNEL_CMDLINE,
                        disk=DiskPlan(pool=scratch_pool.name, size_gib=1), graphics="vnc")


def customized_xml(conn: libvirt.virConnect, plan: NewGuestPlan, scratch_pool: storage.PoolInfo,
                   serial_log: Path, system_uri: str) -> str:
    """The wizard's XML as a user would customize it: a serial log file, and QEMU running as this user
    (the kernel lies under a private home)."""
    assert plan.disk is not None
    predicted = predicted_disk_path(scratch_pool, plan.name)
    assert predicted is not None
    dom = build_domain(replace(plan, disk=replace(plan.disk, path=predicted)), read_host_caps(conn))
    serial = dom.add_device(Serial.new(type="pty"))
    serial.element.append(serial.element.makeelement("log", {"file": str(serial_log), "append": "off"}))
    text = dom.to_xml()
    runs_as = qemu_runs_as_for(system_uri)
    if runs_as is not None:
        text = text.replace("</domain>", ET.tostring(system_seclabel(*runs_as), encoding="unicode") + "</domain>")
    return DomainXml(text).to_xml()


def test_a_kernel_boot_guest_on_a_new_qcow2_disk_is_created_and_boots(conn: libvirt.virConnect, system_uri: str,
                                                                      tiny_files: TinyGuestFiles,
                                                                      scratch_pool: storage.PoolInfo) -> None:
    name = f"{PREFIX}new-{os.getpid()}"
    plan = kernel_plan(name, tiny_files, scratch_pool)
    serial_log = Path(scratch_pool.path or "/nonexistent") / f"{name}.serial.log"
    xml = customized_xml(conn, plan, scratch_pool, serial_log, system_uri)
    steps: list[str] = []
    try:
        made = create_guest(conn, plan, xml, start=True, progress=steps.append)
        assert made.started and len(steps) == 3
        dom = conn.lookupByUUIDString(made.uuid)
        assert dom.isActive()
        # the loop runs meanwhile: it answers libvirt's keepalive
        wait_until(lambda: "VMGUI-TINY-GUEST READY" in read(serial_log), timeout=120, what="the guest's shell")
        image = Path(scratch_pool.path or "") / f"{name}.qcow2"
        info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", str(image)],
                                         capture_output=True, text=True, check=True).stdout)
        assert (info["format"], info["virtual-size"]) == ("qcow2", 1024 ** 3)
        assert str(image) in dom.XMLDesc(0)  # the guest uses the image the pool made
    finally:
        remove_guests(conn, lambda n: n == name)
        serial_log.unlink(missing_ok=True)


def test_cancel_half_way_leaves_nothing_on_the_host(conn: libvirt.virConnect, system_uri: str,
                                                    tiny_files: TinyGuestFiles, scratch_pool: storage.PoolInfo) -> None:
    name = f"{PREFIX}cancelled-{os.getpid()}"
    plan = kernel_plan(name, tiny_files, scratch_pool)
    xml = customized_xml(conn, plan, scratch_pool, Path(scratch_pool.path or "") / f"{name}.log", system_uri)
    cancel = threading.Event()

    def progress(step: str) -> None:
        if step.startswith("Defining"):  # the image exists by now; the guest is about to be defined
            cancel.set()

    before = {v.name for v in storage.list_volumes(conn, scratch_pool.name)}
    with pytest.raises(CreationCancelled):
        create_guest(conn, plan, xml, start=True, progress=progress, cancel=cancel)
    assert name not in {d.name() for d in conn.listAllDomains(0)}
    assert {v.name for v in storage.list_volumes(conn, scratch_pool.name)} == before
    assert not (Path(scratch_pool.path or "") / f"{name}.qcow2").exists()


@pytest.fixture
def tree_server(tiny_files: TinyGuestFiles, tmp_path: Path) -> Iterator[str]:
    """An install tree over HTTP whose 'installer' is the tiny guest (Fedora's layout, no .treeinfo)."""
    pxe = tmp_path / "tree" / "images" / "pxeboot"
    pxe.mkdir(parents=True)
    shutil.copy(tiny_files.kernel, pxe / "vmlinuz")
    shutil.copy(tiny_files.initrd, pxe / "initrd.img")
    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tree"
    server.shutdown()
    server.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_network_install_boots_the_trees_installer_once(conn: libvirt.virConnect, system_uri: str,
                                                          scratch_pool: storage.PoolInfo, tree_server: str) -> None:
    name = f"{PREFIX}netinst-{os.getpid()}"
    tree = locate_tree(None, tree_server)
    plan = NewGuestPlan(name=name, method=InstallMethod.NETWORK, os=GENERIC, memory_mib=128, vcpus=1,
                        install_url=tree_server, cmdline=KERNEL_CMDLINE, graphics="vnc",
                        disk=DiskPlan(pool=scratch_pool.name, size_gib=1))
    serial_log = Path(scratch_pool.path or "") / f"{name}.serial.log"
    xml = customized_xml(conn, plan, scratch_pool, serial_log, system_uri)
    steps: list[str] = []
    try:
        made = create_guest(conn, plan, xml, start=True, progress=steps.append, tree=tree)
        assert steps[1:3] == ["Downloading the installer's kernel from " + tree_server.split("/")[2] + "…",
                              "Downloading the installer's initrd from " + tree_server.split("/")[2] + "…"]
        assert steps[-1] == "Starting the installer…" and made.started
        wait_until(lambda: "VMGUI-TINY-GUEST READY" in read(serial_log), timeout=120, what="the installer")
        dom = conn.lookupByUUIDString(made.uuid)
        running = DomainXml(dom.XMLDesc(0))
        assert running.kernel is not None and running.on_reboot == "destroy"  # this boot: the installer
        installed = DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        assert installed.kernel is None and installed.boot_devices == ["hd"]  # the next boot: its disk
        assert [v.name for v in storage.list_volumes(conn, scratch_pool.name) if v.name.startswith(name)] == \
            [f"{name}.qcow2"]  # the installer's kernel and initrd are gone from the pool again
    finally:
        remove_guests(conn, lambda n: n == name)
        remove_volumes(conn, scratch_pool.name, lambda n: n.startswith(name))
        serial_log.unlink(missing_ok=True)
