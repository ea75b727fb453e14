"""The Clone dialog on the test-driver host: suggested name, per-disk modes, linked clones, batches, errors, a
running source shut down on request or its disks made a base while it runs (and, reopened, linked on that base),
a full copy's progress."""

from __future__ import annotations

import threading
import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QComboBox, QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from tests.helpers import wait_until
from vmgui.core import storage
from vmgui.core.clone import DiskMode, backing_file, clone_guest, repoint_disks
from vmgui.core.clone_base import make_base
from vmgui.core.domain_xml import DomainXml
from vmgui.core.guest_creator import CreatedGuest
from vmgui.ui import clone_dialog
from vmgui.ui.clone_dialog import CloneDialog
from vmgui.ui.main_window import MainWindow

POOL = "default"
GUEST = """<domain type='test'><name>golden</name><memory unit='MiB'>128</memory>
  <os><type arch='i686'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{path}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='cdrom'><source file='/isos/debian.iso'/><target dev='sda' bus='sata'/><readonly/></disk>
  </devices></domain>"""


def host(window: MainWindow) -> libvirt.virConnect:
    session = window.manager.connections[0]._session
    assert session is not None
    return session.conn


def open_clone(window: MainWindow, name: str = "golden") -> CloneDialog:
    conn = host(window)
    wait_until(lambda: any(g.name == name for g in window.manager.connections[0].guests.values()),
               what="the guest listed")
    window.select_guest(window.manager.connections[0], conn.lookupByName(name).UUIDString())
    action = window.findChild(QAction, "action_clone")
    assert action is not None
    wait_until(action.isEnabled, what="Clone enabled")
    action.trigger()
    dialog = window.findChild(CloneDialog)
    assert dialog is not None and dialog.isVisible()
    wait_until(lambda: bool(dialog.disks), what="the disks read")
    return dialog


def make_golden(window: MainWindow) -> str:
    conn = host(window)
    path = storage.create_volume(conn, POOL, "golden.qcow2", storage.GIB).path
    conn.defineXML(GUEST.format(path=path))
    return path


def start_golden(window: MainWindow) -> tuple[str, libvirt.virConnect]:
    """The golden guest, running and listed as running: its disk's path and the host."""
    base = make_golden(window)
    conn = host(window)
    conn.lookupByName("golden").create()
    guests = window.manager.connections[0].guests
    wait_until(lambda: any(g.name == "golden" and g.state.is_active for g in guests.values()), what="it runs")
    return base, conn


def test_suggested_name_modes_per_disk_and_a_linked_clone(window: MainWindow, qtbot: QtBot) -> None:
    base = make_golden(window)
    dialog = open_clone(window)
    assert dialog.name.text() == "golden-clone"
    vda = dialog.table.cellWidget(0, 2)
    sda = dialog.table.cellWidget(1, 2)
    assert isinstance(vda, QComboBox) and isinstance(sda, QComboBox)
    assert [vda.itemData(i) for i in range(vda.count())] == [DiskMode.COPY, DiskMode.LINK, DiskMode.SHARE]
    assert [sda.itemData(i) for i in range(sda.count())] == [DiskMode.SHARE] and not sda.isEnabled()
    assert not dialog.protect.isVisibleTo(dialog)  # only for linked clones
    vda.setCurrentIndex(1)
    assert dialog.protect.isVisibleTo(dialog) and dialog.protect.isChecked()
    dialog.protect.setChecked(False)
    dialog.name.setText("web-frontend")  # taken on this host
    assert "already exists" in dialog.problem.text()
    assert not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.name.setText("desk-a")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    conn = host(window)
    wait_until(lambda: "desk-a" in [d.name() for d in conn.listAllDomains(0)], what="the clone")
    clone_disk = DomainXml(conn.lookupByName("desk-a").XMLDesc(0)).disks[0].source_path
    assert clone_disk is not None and backing_file(conn, clone_disk) == base
    wait_until(lambda: not [d for d in window.findChildren(CloneDialog) if d.isVisible()], what="the dialog closed")
    wait_until(lambda: any(g.name == "desk-a" for _c, g in window.selected_guests()), what="the clone selected")


def test_a_batch_with_a_name_pattern_and_protecting_the_base(window: MainWindow) -> None:
    base = make_golden(window)
    dialog = open_clone(window)
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox)
    vda.setCurrentIndex(1)  # linked
    dialog.batch.setChecked(True)
    dialog.count.setValue(3)
    dialog.pattern.setText("desk")
    assert "needs {n}" in dialog.problem.text()
    dialog.pattern.setText("desk-{n:03}")
    assert dialog.problem.text() == "3 clones: desk-001, desk-002, desk-003"
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    conn = host(window)
    wait_until(lambda: {"desk-001", "desk-002", "desk-003"} <= {d.name() for d in conn.listAllDomains(0)},
               what="three clones")
    # the base is protected after the last clone is defined: wait for the whole batch
    wait_until(lambda: not [d for d in window.findChildren(CloneDialog) if d.isVisible()], what="the batch finished")
    for name in ("desk-001", "desk-002", "desk-003"):
        disk = DomainXml(conn.lookupByName(name).XMLDesc(0)).disks[0].source_path
        assert disk is not None and backing_file(conn, disk) == base  # all on the same base
    source_disk = DomainXml(conn.lookupByName("golden").XMLDesc(0)).disks[0].source_path
    assert source_disk == f"{base.rsplit('/', 1)[0]}/golden-top-vda.qcow2"  # the source has its own overlay now
    assert source_disk is not None and backing_file(conn, source_disk) == base


def test_a_failure_is_said_and_nothing_is_left(window: MainWindow) -> None:
    make_golden(window)
    conn = host(window)
    dialog = open_clone(window)
    storage.create_volume(conn, POOL, "golden-clone-vda.qcow2", storage.GIB)  # taken behind vmgui's back
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: any(isinstance(w, QMessageBox) and w.isVisible() for w in dialog.findChildren(QMessageBox)),
               what="the error")
    box = next(w for w in dialog.findChildren(QMessageBox) if w.isVisible())
    assert "already has a disk image named 'golden-clone-vda.qcow2'" in box.text()
    assert "golden-clone" not in [d.name() for d in conn.listAllDomains(0)] and dialog.isVisible()
    box.close()
    dialog.reject()


def test_a_running_source_is_explained_and_shut_down_on_request_then_linked(window: MainWindow) -> None:
    base, conn = start_golden(window)
    dialog = open_clone(window)
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox)
    assert [vda.itemData(i) for i in range(vda.count())] == [DiskMode.COPY, DiskMode.SHARE]  # no linked clone yet
    assert dialog.running_note.isVisibleTo(dialog) and "golden is running" in dialog.running_note.text()
    assert dialog.shut_down.isVisibleTo(dialog)
    dialog.shut_down.click()
    wait_until(lambda: any(isinstance(w, QMessageBox) and w.isVisible() for w in dialog.findChildren(QMessageBox)),
               what="the question")
    box = next(w for w in dialog.findChildren(QMessageBox) if w.isVisible())
    assert box.text() == "Shut down golden?"
    next(b for b in box.buttons() if b.text() == "Shut Down").click()
    wait_until(lambda: not dialog.shut_down.isVisibleTo(dialog), what="the source shut down")
    assert not conn.lookupByName("golden").isActive()
    vda = dialog.table.cellWidget(0, 2)  # the table was filled again
    assert isinstance(vda, QComboBox) and vda.currentData() is DiskMode.LINK  # what the user asked for
    assert dialog.protect.isVisibleTo(dialog)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: "golden-clone" in [d.name() for d in conn.listAllDomains(0)], what="the clone")
    disk = DomainXml(conn.lookupByName("golden-clone").XMLDesc(0)).disks[0].source_path
    assert disk is not None and backing_file(conn, disk) == base


def test_a_batch_runs_beside_the_main_window_with_progress_and_a_cancel_still_protects_the_base(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    base = make_golden(window)
    conn = host(window)
    gate = threading.Event()
    real = clone_guest

    def held(*args: Any, **kwargs: Any) -> CreatedGuest:  # the second clone waits for the test
        if args[2] == "desk-002":
            kwargs["progress"]("Making a linked clone of vda…")
            gate.wait(10)
        return real(*args, **kwargs)
    monkeypatch.setattr(clone_dialog, "clone_guest", held)
    dialog = open_clone(window)
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox)
    vda.setCurrentIndex(1)  # linked, protecting the base
    dialog.batch.setChecked(True)
    dialog.count.setValue(3)
    dialog.pattern.setText("desk-{n:03}")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: dialog.progress_text.text() == "desk-002 (2 of 3): Making a linked clone of vda…",
               what="the second clone's progress")
    assert (dialog.progress.value(), dialog.progress.maximum()) == (1, 3) and dialog.progress.isVisible()
    assert QApplication.activeModalWidget() is None  # the main window stays usable meanwhile
    assert not dialog.table.isEnabled() and not dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert dialog.isVisible() and dialog.progress_text.text().startswith("Cancelling")
    gate.set()
    wait_until(lambda: any(isinstance(w, QMessageBox) and w.isVisible() for w in dialog.findChildren(QMessageBox)),
               what="the outcome")
    box = next(w for w in dialog.findChildren(QMessageBox) if w.isVisible())
    assert box.text() == ("Cancelled: nothing was left behind. 1 of 3 clones were made before. The source guest's "
                          "disks were protected for them.")
    names = {d.name() for d in conn.listAllDomains(0)}
    assert "desk-001" in names and not {"desk-002", "desk-003"} & names
    source_disk = DomainXml(conn.lookupByName("golden").XMLDesc(0)).disks[0].source_path
    assert source_disk is not None and source_disk != base and backing_file(conn, source_disk) == base
    box.close()
    dialog.reject()


class LikeLibvirtd:
    """The test host, whose domains take a disk-only snapshot as libvirtd does (the test driver refuses it): the
    guest goes on on the overlays. It is restarted here, which libvirtd does not need."""

    def __init__(self, conn: libvirt.virConnect) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def lookupByUUIDString(self, uuid: str) -> Any:
        conn = self._conn
        dom = conn.lookupByUUIDString(uuid)

        class Domain:
            def __getattr__(self, name: str) -> Any:
                return getattr(dom, name)

            def snapshotCreateXML(self, xml: str, flags: int) -> None:
                overlays = {}
                for disk in ET.fromstring(xml).findall("disks/disk[@snapshot='external']"):
                    source = disk.find("source")
                    assert source is not None
                    overlays[disk.get("name", "")] = source.get("file", "")
                dom.destroy()
                conn.defineXML(repoint_disks(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), overlays).to_xml())
                dom.create()
        return Domain()


def question(dialog: CloneDialog) -> QMessageBox:
    wait_until(lambda: any(isinstance(w, QMessageBox) and w.isVisible() for w in dialog.findChildren(QMessageBox)),
               what="the question")
    return next(w for w in dialog.findChildren(QMessageBox) if w.isVisible())


def test_a_running_sources_disks_are_made_a_base_and_linked_while_it_runs(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    base, conn = start_golden(window)
    monkeypatch.setattr(clone_dialog, "make_base", lambda c, uuid, targets: make_base(LikeLibvirtd(c), uuid, targets))
    dialog = open_clone(window)
    assert "make its disks a base now: golden keeps running on a new overlay file" in dialog.running_note.text()
    assert dialog.make_base.isVisibleTo(dialog) and dialog.shut_down.isVisibleTo(dialog)
    dialog.make_base.click()
    box = question(dialog)
    assert box.text() == "Make golden's disks a base now?"
    assert box.informativeText().startswith("golden keeps running, without a pause. Its disk vda gets a new overlay "
                                            "file in its storage pool that takes golden's writes from now on")
    assert "golden's snapshot list does not change" in box.informativeText()
    next(b for b in box.buttons() if b.text() == "Make a Base").click()
    wait_until(lambda: not dialog.make_base.isVisibleTo(dialog), what="the base made")
    assert not dialog.shut_down.isVisibleTo(dialog)
    assert dialog.running_note.text().startswith("golden keeps running on new overlay files. Linked clones build on "
                                                 "its former disks, now read-only bases")
    source = conn.lookupByName("golden")
    top = DomainXml(source.XMLDesc(0)).disks[0].source_path
    assert source.isActive() and top == f"{base.rsplit('/', 1)[0]}/golden-top-vda.qcow2"
    assert backing_file(conn, top) == base
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox) and vda.currentData() is DiskMode.LINK  # what the user asked for
    note = dialog.table.item(0, 3)
    assert note is not None and note.text().startswith("linked clones build on its base golden.qcow2, made today at ")
    assert not dialog.protect.isVisibleTo(dialog)  # the base is protected already: the source runs on an overlay
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: "golden-clone" in [d.name() for d in conn.listAllDomains(0)], what="the clone")
    disk = DomainXml(conn.lookupByName("golden-clone").XMLDesc(0)).disks[0].source_path
    assert disk is not None and backing_file(conn, disk) == base  # the base, not the running guest's overlay
    assert source.isActive() and DomainXml(source.XMLDesc(0)).disks[0].source_path == top


def test_a_reopened_dialog_links_a_running_source_on_its_recorded_base_with_no_overlay_more(
        window: MainWindow) -> None:
    base = make_golden(window)
    conn = host(window)
    source = conn.lookupByName("golden")
    source.create()
    guests = window.manager.connections[0].guests
    wait_until(lambda: any(g.name == "golden" and g.state.is_active for g in guests.values()), what="it runs")
    assert make_base(LikeLibvirtd(conn), source.UUIDString(), ["vda"]) == {"vda": base}  # in an earlier dialog
    top = DomainXml(source.XMLDesc(0)).disks[0].source_path
    before = sorted(v.name for v in storage.list_volumes(conn, POOL))
    assert before == ["golden-top-vda.qcow2", "golden.qcow2"]
    dialog = open_clone(window)
    assert not dialog.make_base.isVisibleTo(dialog) and not dialog.shut_down.isVisibleTo(dialog)
    assert dialog.running_note.isVisibleTo(dialog)
    assert dialog.running_note.text().startswith("golden runs on overlay files over read-only bases made today at ")
    assert "Linked clones build on those bases, with no overlay more for golden" in dialog.running_note.text()
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox) and vda.currentData() is DiskMode.LINK and vda.isEnabled()
    note = dialog.table.item(0, 3)
    assert note is not None and note.text().startswith("linked clones build on its base golden.qcow2, made today at ")
    assert not dialog.protect.isVisibleTo(dialog)
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: "golden-clone" in [d.name() for d in conn.listAllDomains(0)], what="the clone")
    disk = DomainXml(conn.lookupByName("golden-clone").XMLDesc(0)).disks[0].source_path
    assert disk is not None and backing_file(conn, disk) == base
    assert source.isActive() and DomainXml(source.XMLDesc(0)).disks[0].source_path == top
    assert top is not None and backing_file(conn, top) == base  # the source's chain did not grow
    assert sorted(v.name for v in storage.list_volumes(conn, POOL)) == sorted([*before, "golden-clone-vda.qcow2"])


def test_a_base_that_cannot_be_made_is_said_and_nothing_is_left(window: MainWindow) -> None:
    base, conn = start_golden(window)
    before = sorted(v.name for v in storage.list_volumes(conn, POOL))
    dialog = open_clone(window)
    dialog.make_base.click()
    next(b for b in question(dialog).buttons() if b.text() == "Make a Base").click()
    wait_until(lambda: "could not be made a base" in question(dialog).text(), what="the error")
    box = question(dialog)
    assert box.text().startswith("golden's disks could not be made a base (it keeps running on them): ")
    assert sorted(v.name for v in storage.list_volumes(conn, POOL)) == before  # no overlay left
    source = conn.lookupByName("golden")
    assert source.isActive() and DomainXml(source.XMLDesc(0)).disks[0].source_path == base
    assert dialog.make_base.isVisibleTo(dialog) and dialog.make_base.isEnabled()  # it can be tried again
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox) and DiskMode.LINK not in [vda.itemData(i) for i in range(vda.count())]
    box.close()
    dialog.reject()


def test_a_full_copy_shows_how_far_it_is(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    make_golden(window)
    conn = host(window)
    gate = threading.Event()
    real = storage.copy_volume

    def slow(*args: Any, **kwargs: Any) -> storage.VolumeInfo:  # the test driver copies at once: report 42 % first
        args[3](0.42)
        gate.wait(10)
        return real(*args, **kwargs)
    monkeypatch.setattr(storage, "copy_volume", slow)
    dialog = open_clone(window)
    vda = dialog.table.cellWidget(0, 2)
    assert isinstance(vda, QComboBox) and vda.currentData() is DiskMode.COPY
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: dialog.progress_text.text() == "golden-clone: Copying vda (1.0 GiB): 42%", what="the percent")
    assert dialog.progress_text.isVisible()
    gate.set()
    wait_until(lambda: "golden-clone" in [d.name() for d in conn.listAllDomains(0)], what="the clone")
