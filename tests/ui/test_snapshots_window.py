"""The snapshots window on the test-driver host: the tree, take, revert with confirmation, delete a subtree."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication, QCheckBox, QDialog, QInputDialog, QMessageBox

from tests.helpers import wait_until
from tests.ui.test_clone_dialog import host
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
