"""The snapshots window on the test-driver host: the tree, take (kinds and thumbnails), revert with confirmation
or a refusal, delete a subtree."""

from __future__ import annotations

import datetime
import time

import libvirt
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QStandardItemModel
from PySide6.QtWidgets import QApplication, QCheckBox, QDialog, QInputDialog, QMessageBox

from tests.helpers import run, wait_until
from tests.ui.test_clone_dialog import host
from vmgui.core.snapshots import SnapshotKind
from vmgui.ui.main_window import MainWindow
from vmgui.ui.snapshots_window import SnapshotsWindow, TakeSnapshotDialog

GUEST = """<domain type='test'><name>snappy</name><memory unit='MiB'>128</memory>
  <os><type arch='i686'>hvm</type></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='/var/lib/libvirt/images/snappy.qcow2'/><target dev='vda' bus='virtio'/></disk></devices></domain>"""


def visible(kind: type, name: str | None = None) -> object | None:
    return next((w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()
                 and (name is None or w.objectName() == name)), None)


def open_window(window: MainWindow) -> SnapshotsWindow:
    conn = window.manager.connections[0]
    dom = host(window).defineXML(GUEST)
    wait_until(lambda: any(g.name == "snappy" for g in conn.guests.values()), what="the guest listed")
    window.select_guest(conn, dom.UUIDString())
    action = window.findChild(QAction, "action_snapshots")
    assert action is not None
    wait_until(action.isEnabled, what="Snapshots enabled")
    action.trigger()
    found = window.findChild(SnapshotsWindow)
    assert found is not None
    wait_until(lambda: found.status.text() == "No snapshots yet.", what="the empty tree")
    return found


def take(snaps: SnapshotsWindow, name: str, description: str = "") -> None:
    snaps.take_button.click()
    wait_until(lambda: visible(TakeSnapshotDialog) is not None, what="the take dialog")
    dialog = visible(TakeSnapshotDialog)
    assert isinstance(dialog, TakeSnapshotDialog)
    assert dialog.name.text().startswith("snapshot-")  # a name is suggested
    dialog.name.setText(name)
    dialog.description.setText(description)
    dialog.accept()
    wait_until(lambda: any(s.name == name for s in snaps.snapshots), what=f"snapshot {name}")


def test_take_revert_describe_and_delete_a_subtree(window: MainWindow) -> None:
    snaps = open_window(window)
    dom = host(window).lookupByName("snappy")
    take(snaps, "clean", "fresh")
    dom.create()
    take(snaps, "updated")
    take(snaps, "tweaked")
    assert snaps.tree.topLevelItemCount() == 1
    top = snaps.tree.topLevelItem(0)
    assert top is not None and (top.text(0), top.text(2), top.text(3)) == ("clean", "Shut off", "fresh")
    middle = top.child(0)
    assert middle is not None and middle.text(0) == "updated"
    last = middle.child(0)
    assert last is not None and last.text(0) == "tweaked  (current)" and last.font(0).bold()
    # revert to the shut-off snapshot, after a confirmation that says what happens
    snaps.select("clean")
    snaps.revert_button.click()
    wait_until(lambda: visible(QMessageBox, "confirm") is not None, what="the confirmation")
    box = visible(QMessageBox, "confirm")
    assert isinstance(box, QMessageBox) and "the guest will be shut off" in box.informativeText()
    next(b for b in box.buttons() if b.text() == "Revert").click()
    wait_until(lambda: snaps.status.text() == "Reverted to clean.", what="the revert")
    top = snaps.tree.topLevelItem(0)
    assert not dom.isActive() and top is not None and top.text(0) == "clean  (current)"
    # describe
    snaps.select("updated")
    snaps.describe_button.click()
    wait_until(lambda: visible(QInputDialog) is not None, what="the description dialog")
    ask = visible(QInputDialog)
    assert isinstance(ask, QInputDialog)
    ask.setTextValue("after apt upgrade")
    ask.accept()
    wait_until(lambda: any(s.description == "after apt upgrade" for s in snaps.snapshots), what="the description")
    # delete "updated" with the one below it
    snaps.select("updated")
    snaps.delete_button.click()
    wait_until(lambda: visible(QDialog, "delete_snapshot") is not None, what="the delete dialog")
    dialog = visible(QDialog, "delete_snapshot")
    assert isinstance(dialog, QDialog)
    with_children = dialog.findChild(QCheckBox, "with_children")
    assert with_children is not None and with_children.text() == "Also delete the 1 snapshot below it"
    with_children.setChecked(True)
    dialog.accept()
    wait_until(lambda: [s.name for s in snaps.snapshots] == ["clean"], what="the subtree deleted")
    assert snaps.status.text() == "Deleted updated and the snapshots below it."
    snaps.close()


def test_kinds_the_guest_cannot_have_are_greyed_thumbnails_and_an_external_revert_refused_first(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    snaps = open_window(window)
    dom = host(window).lookupByName("snappy")
    snaps.take_button.click()
    wait_until(lambda: visible(TakeSnapshotDialog) is not None, what="the take dialog")
    dialog = visible(TakeSnapshotDialog)
    assert isinstance(dialog, TakeSnapshotDialog)
    model = dialog.mode.model()
    assert isinstance(model, QStandardItemModel)
    enabled = {dialog.mode.itemData(i): model.item(i).isEnabled() for i in range(dialog.mode.count())}
    assert enabled == {SnapshotKind.INTERNAL: True, SnapshotKind.EXTERNAL_MEMORY: False,
                       SnapshotKind.EXTERNAL_DISK: True}  # a shut-off guest has no memory to keep
    assert dialog.kind() is SnapshotKind.INTERNAL and dialog.refused.isVisibleTo(dialog)
    assert "needs the guest running" in dialog.refused.text()
    dialog.name.setText("off")
    dialog.accept()
    wait_until(lambda: any(s.name == "off" for s in snaps.snapshots), what="snapshot off")
    dom.create()
    take(snaps, "on")
    icons = {item.data(0, Qt.ItemDataRole.UserRole): item.icon(0).isNull()
             for item in snaps.tree.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)}
    assert icons == {"off": True, "on": False}  # the screen when taken, for the running guest only
    # an external snapshot (made elsewhere): this libvirt cannot revert to it, and says so before asking
    dom.snapshotCreateXML(
        "<domainsnapshot><name>outside</name><state>disk-snapshot</state><creationTime>2000000000</creationTime>"
        "<memory snapshot='no'/><disks>"
        "<disk name='vda' snapshot='external'><source file='/var/lib/libvirt/images/snappy.outside'/></disk>"
        f"</disks>{dom.XMLDesc(0)}</domainsnapshot>", libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE)
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # the date column is in local time: UTC+5:30 here
    time.tzset()
    try:
        run(snaps.refresh())
        now = datetime.datetime.now()
    finally:
        monkeypatch.undo()
        time.tzset()
    taken = {item.data(0, Qt.ItemDataRole.UserRole): item.text(1)
             for item in snaps.tree.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive)}
    assert taken["outside"] == "2033-05-18 09:03"  # creationTime 2000000000 is 2033-05-18 03:33:20 UTC
    assert {taken["off"], taken["on"]} <= {f"{t:%Y-%m-%d %H:%M}" for t in (now, now - datetime.timedelta(minutes=1))}
    snaps.select("outside")
    snaps.revert_button.click()
    wait_until(lambda: visible(QMessageBox, "error") is not None, what="the refusal")
    box = visible(QMessageBox, "error")
    assert isinstance(box, QMessageBox) and "needs libvirt 9.9 (this host has 9.0.0)" in box.text()
    assert visible(QMessageBox, "confirm") is None
    box.close()
    snaps.close()
