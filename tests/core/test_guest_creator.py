"""Creating a guest as one job on the test driver: disk image, definition, start; undone on failure or cancel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import libvirt
import pytest

from tests.helpers import remove_guests, remove_volumes
from vmgui.core import storage
from vmgui.core.errors import VmguiError
from vmgui.core.guest_creator import CreationCancelled, create_guest, predicted_disk_path
from vmgui.core.host_caps import HostCaps, read_host_caps
from vmgui.core.new_guest import DiskPlan, InstallMethod, NewGuestPlan, build_domain
from vmgui.core.osinfo import GENERIC


@pytest.fixture
def conn() -> Iterator[libvirt.virConnect]:
    c = libvirt.open("test:///default")  # shared by the process while any connection is open: clean up
    yield c
    remove_guests(c, lambda name: name.startswith("new-"))
    remove_volumes(c, "default-pool")
    c.close()


def plan_and_xml(conn: libvirt.virConnect, name: str = "new-1") -> tuple[NewGuestPlan, str]:
    caps: HostCaps = read_host_caps(conn)
    plan = NewGuestPlan(name=name, method=InstallMethod.KERNEL, os=GENERIC, memory_mib=256, vcpus=1,
                        kernel="/boot/vmlinuz", disk=DiskPlan(pool="default-pool", size_gib=2), graphics="vnc")
    pool = storage.pool_info(conn, "default-pool")
    predicted = predicted_disk_path(pool, name)
    assert predicted == f"/default-pool/{name}.qcow2"
    assert plan.disk is not None
    xml = build_domain(replace(plan, disk=replace(plan.disk, path=predicted)), caps).to_xml()
    return plan, xml


def leftovers(conn: libvirt.virConnect) -> tuple[list[str], list[str]]:
    return ([d.name() for d in conn.listAllDomains(0) if d.name().startswith("new-")],
            [v.name for v in storage.list_volumes(conn, "default-pool")])


def test_creates_the_disk_defines_and_starts(conn: libvirt.virConnect) -> None:
    plan, xml = plan_and_xml(conn)
    steps: list[str] = []
    made = create_guest(conn, plan, xml, start=True, progress=steps.append)
    dom = conn.lookupByUUIDString(made.uuid)
    assert (made.name, made.started, dom.isActive()) == ("new-1", True, 1)
    assert leftovers(conn) == (["new-1"], ["new-1.qcow2"])
    assert "/default-pool/new-1.qcow2" in dom.XMLDesc(0)
    assert steps == ["Creating the disk image (2 GiB in pool 'default-pool')…", "Defining the guest…",
                     "Starting the guest…"]


def test_a_taken_name_is_refused_before_anything_is_made(conn: libvirt.virConnect) -> None:
    plan, xml = plan_and_xml(conn, "test")  # test:///default has a guest named "test"
    with pytest.raises(VmguiError, match="A guest named 'test' already exists"):
        create_guest(conn, plan, xml, start=False)
    assert storage.list_volumes(conn, "default-pool") == []


def test_a_taken_image_name_leaves_the_existing_image_alone(conn: libvirt.virConnect) -> None:
    storage.create_volume(conn, "default-pool", "new-1.qcow2", storage.GIB)
    plan, xml = plan_and_xml(conn)
    with pytest.raises(VmguiError, match="already has a disk image named"):
        create_guest(conn, plan, xml, start=False)
    assert leftovers(conn) == ([], ["new-1.qcow2"])  # not ours to remove


class FailingHost:
    """The test host, but one call fails the way a real host's would (a full disk, a broken emulator)."""

    def __init__(self, conn: libvirt.virConnect, failing: str) -> None:
        self._conn = conn
        self._failing = failing

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._conn, name)
        if name != self._failing:
            return attr

        def fail(*_args: Any) -> Any:
            raise libvirt.libvirtError(f"injected failure of {name}")
        return fail


def test_a_definition_that_fails_removes_the_new_image(conn: libvirt.virConnect) -> None:
    plan, xml = plan_and_xml(conn)
    with pytest.raises(VmguiError, match="libvirt did not accept the guest's XML"):
        create_guest(FailingHost(conn, "defineXML"), plan, xml, start=True)  # type: ignore[arg-type]
    assert leftovers(conn) == ([], [])


def test_a_start_that_fails_removes_the_guest_and_its_image(conn: libvirt.virConnect) -> None:
    plan, xml = plan_and_xml(conn)
    real_define = conn.defineXML

    class StartFails(FailingHost):
        def defineXML(self, text: str) -> Any:
            dom = real_define(text)

            class Dom:
                def __getattr__(self, name: str) -> Any:
                    if name == "create":
                        def fail() -> None:
                            raise libvirt.libvirtError("injected: could not start the emulator")
                        return fail
                    return getattr(dom, name)
            return Dom()

    with pytest.raises(VmguiError, match="The guest could not start"):
        create_guest(StartFails(conn, ""), plan, xml, start=True)  # type: ignore[arg-type]
    assert leftovers(conn) == ([], [])


def test_cancel_after_the_image_was_made_removes_it(conn: libvirt.virConnect) -> None:
    plan, xml = plan_and_xml(conn)
    cancel = threading.Event()

    def progress(step: str) -> None:
        if step.startswith("Creating the disk image"):
            cancel.set()  # the user presses Cancel while the image is being made

    with pytest.raises(CreationCancelled, match="nothing was left behind"):
        create_guest(conn, plan, xml, start=True, progress=progress, cancel=cancel)
    assert leftovers(conn) == ([], [])


def test_xml_for_another_name_or_without_the_new_disk_is_refused(conn: libvirt.virConnect) -> None:
    plan, xml = plan_and_xml(conn)
    with pytest.raises(VmguiError, match="names the guest 'other'"):
        create_guest(conn, plan, xml.replace("<name>new-1</name>", "<name>other</name>"), start=False)
    no_disk = xml.replace("/default-pool/new-1.qcow2", "/elsewhere/x.qcow2")
    with pytest.raises(VmguiError, match="no disk for the new disk image"):
        create_guest(conn, plan, no_disk, start=False)
    assert leftovers(conn) == ([], [])
