"""The golden image dialog on the test-driver host: publish versions, list them with their users, retire, refusals."""

from __future__ import annotations

from collections.abc import Iterator

import libvirt
import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton, QTreeWidget, QTreeWidgetItem, QWidget

from tests.helpers import remove_guests, remove_volumes, wait_until
from vmgui.core import storage
from vmgui.core.vdi import pools
from vmgui.core.vdi.pool_specs import PoolSpec, save_pool
from vmgui.ui.main_window import MainWindow
from vmgui.ui.vdi.golden_dialog import GoldenDialog

POOL = "default"
GUEST = """<domain type='test'><name>gold</name><memory unit='MiB'>256</memory><vcpu>2</vcpu>
  <os><type arch='i686'>hvm</type></os>
  <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
    <source file='{path}'/><target dev='vda' bus='virtio'/></disk></devices></domain>"""


def host(window: MainWindow) -> libvirt.virConnect:
    session = window.manager.connections[0]._session
    assert session is not None
    return session.conn


@pytest.fixture
def gold(window: MainWindow) -> Iterator[str]:
    """A shut-off guest 'gold' with a qcow2 disk in the host's pool: its UUID."""
    conn = host(window)
    path = storage.create_volume(conn, POOL, "gold.qcow2", storage.GIB).path
    uuid: str = conn.defineXML(GUEST.format(path=path)).UUIDString()
    yield uuid
    remove_guests(conn, lambda n: n == "gold" or n.startswith("desk-"))
    remove_volumes(conn, POOL, lambda n: n.startswith(("gold", "desk-")))


def open_dialog(window: MainWindow, uuid: str) -> GoldenDialog:
    dialog = GoldenDialog(window.manager.connections[0], uuid, "gold", window)
    dialog.show()
    wait_until(lambda: dialog.state is not None, what="the versions read")
    return dialog


def item(dialog: GoldenDialog, row: int) -> QTreeWidgetItem:
    tree = dialog.findChild(QTreeWidget, "versions")
    assert tree is not None
    found = tree.topLevelItem(row)
    assert found is not None
    return found


def rows(dialog: GoldenDialog) -> list[list[str]]:
    """Version, note and used-by of each row."""
    return [[item(dialog, i).text(c) for c in (0, 2, 3)] for i in range(dialog.versions.topLevelItemCount())]


def button(dialog: GoldenDialog, name: str) -> QPushButton:
    found = dialog.findChild(QPushButton, name)
    assert found is not None
    return found


def visible_box(parent: QWidget, name: str) -> QMessageBox | None:
    return next((b for b in parent.findChildren(QMessageBox, name) if b.isVisible()), None)


def publish(dialog: GoldenDialog, note: str, label: str) -> None:
    dialog.note.setText(note)
    assert button(dialog, "publish").text() == f"Publish {label}"
    button(dialog, "publish").click()
    wait_until(lambda: dialog.status.text() == f"Published {label}.", what=f"{label} published")


def retire(dialog: GoldenDialog, row: int) -> None:
    """Select a version and retire it, answering the confirmation."""
    item(dialog, row).setSelected(True)
    retire_button = button(dialog, "retire")
    assert retire_button.isEnabled()
    retire_button.click()
    wait_until(lambda: visible_box(dialog, "confirm") is not None, what="the confirmation")
    box = visible_box(dialog, "confirm")
    assert box is not None
    ok = next(b for b in box.buttons() if b.text().startswith("Retire"))
    ok.click()


def test_publish_two_versions_list_them_and_retire_only_what_nothing_builds_on(window: MainWindow, gold: str) -> None:
    conn = host(window)
    dialog = open_dialog(window, gold)
    assert rows(dialog) == [] and dialog.empty.isVisible()
    assert not button(dialog, "retire").isEnabled()  # nothing selected
    publish(dialog, "base install", "v1")
    publish(dialog, "with updates", "v2")
    assert rows(dialog) == [["v1", "base install", "nothing"], ["v2", "with updates", "nothing"]]
    assert not dialog.empty.isVisible() and dialog.note.text() == ""
    assert button(dialog, "publish").text() == "Publish v3"
    names = {v.name() for v in conn.storagePoolLookupByName(POOL).listAllVolumes(0)}
    assert {"gold-golden-v1.qcow2", "gold-golden-v2.qcow2"} <= names

    # a pool desktop builds on v1: retiring it is refused, naming the desktop
    save_pool(conn, PoolSpec("office", gold, 1, "desk-{n:03}", version=1))
    pools.provision(conn, "office")
    dialog.refresh()
    wait_until(lambda: rows(dialog)[0][2] == "desk-001", what="v1's user listed")
    retire(dialog, 0)
    wait_until(lambda: visible_box(dialog, "error") is not None, what="the refusal")
    box = visible_box(dialog, "error")
    assert box is not None and "desk-001" in box.text() and "cannot be retired" in box.text()
    box.close()
    assert [r[0] for r in rows(dialog)] == ["v1", "v2"]

    # once the desktop is gone, v1 goes; numbers are not reused
    pools.remove_pool(conn, "office")
    dialog.refresh()
    wait_until(lambda: rows(dialog)[0][2] == "nothing", what="v1 unused")
    retire(dialog, 0)
    wait_until(lambda: dialog.status.text() == "Retired v1.", what="v1 retired")
    assert rows(dialog) == [["v2", "with updates", "nothing"]]
    assert "gold-golden-v1.qcow2" not in {v.name() for v in conn.storagePoolLookupByName(POOL).listAllVolumes(0)}
    assert button(dialog, "publish").text() == "Publish v3"
    dialog.close()


def test_retire_can_be_cancelled(window: MainWindow, gold: str) -> None:
    dialog = open_dialog(window, gold)
    publish(dialog, "", "v1")
    item(dialog, 0).setSelected(True)
    assert button(dialog, "retire").text() == "Retire v1"
    button(dialog, "retire").click()
    wait_until(lambda: visible_box(dialog, "confirm") is not None, what="the confirmation")
    box = visible_box(dialog, "confirm")
    assert box is not None
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_until(lambda: visible_box(dialog, "confirm") is None, what="the confirmation closed")
    assert [r[0] for r in rows(dialog)] == ["v1"]
    dialog.close()


def test_a_running_guest_is_told_to_shut_down_first(window: MainWindow, gold: str) -> None:
    host(window).lookupByUUIDString(gold).create()
    dialog = open_dialog(window, gold)
    assert "gold is running: shut it down" in dialog.hint.text()
    button(dialog, "publish").click()
    wait_until(lambda: visible_box(dialog, "error") is not None, what="the refusal")
    box = visible_box(dialog, "error")
    assert box is not None and box.text().startswith("Shut gold down first")
    box.close()
    assert rows(dialog) == [] and button(dialog, "publish").isEnabled() and not dialog.progress.isVisible()
    dialog.close()
