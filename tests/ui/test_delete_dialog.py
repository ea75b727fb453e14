"""The Delete dialog on the test-driver host: own images ticked, protected ones kept and said why."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox

from tests.helpers import wait_until
from tests.ui.test_clone_dialog import GUEST, POOL, host
from vmgui.core import storage
from vmgui.core.clone import DiskMode, clone_guest
from vmgui.ui.delete_dialog import DeleteDialog
from vmgui.ui.main_window import MainWindow


def open_delete(window: MainWindow, name: str) -> DeleteDialog:
    conn = window.manager.connections[0]
    wait_until(lambda: any(g.name == name for g in conn.guests.values()), what=f"{name} listed")
    window.select_guest(conn, host(window).lookupByName(name).UUIDString())
    action = window.findChild(QAction, "action_delete")
    assert action is not None
    wait_until(action.isEnabled, what="Delete enabled")
    before = set(window.findChildren(DeleteDialog))
    action.trigger()
    dialog, = (d for d in window.findChildren(DeleteDialog) if d not in before)
    wait_until(lambda: bool(dialog.boxes), what="the disks read")
    return dialog


def test_a_guest_goes_with_its_own_image_and_a_base_with_clones_stays(window: MainWindow) -> None:
    conn = host(window)
    base = storage.create_volume(conn, POOL, "golden.qcow2", storage.GIB).path
    golden = conn.defineXML(GUEST.format(path=base))
    clone_guest(conn, golden.UUIDString(), "desk-1", {"vda": DiskMode.LINK})
    dialog = open_delete(window, "golden")
    vda = dialog.boxes[base]
    assert not vda.isEnabled() and not vda.isChecked()
    assert dialog.reasons[base].text() == "Kept: other disk images build on it (desk-1-vda.qcow2)."
    assert dialog.reasons["/isos/debian.iso"].text() == "Kept: install media is kept."
    assert not dialog.boxes["/isos/debian.iso"].isChecked() and not dialog.boxes["/isos/debian.iso"].isEnabled()
    assert dialog.warning.text() == "Delete the guest golden?"
    dialog.reject()
    conn.lookupByName("desk-1").create()
    dialog = open_delete(window, "desk-1")
    assert dialog.warning.text() == "Delete the guest desk-1? It is running and will be forced off first."
    overlay = next(path for path in dialog.boxes if path.endswith("desk-1-vda.qcow2"))
    assert dialog.boxes[overlay].isChecked() and dialog.chosen() == [overlay]
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: "desk-1" not in [d.name() for d in conn.listAllDomains(0)], what="the clone deleted")
    assert [v.name for v in storage.list_volumes(conn, POOL)] == ["golden.qcow2"]
    dialog = open_delete(window, "golden")  # its only child is gone: the base may go now
    assert dialog.boxes[base].isEnabled() and dialog.boxes[base].isChecked()
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: storage.list_volumes(conn, POOL) == [], what="the base deleted")
