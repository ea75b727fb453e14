"""The desktop pool dialog on the test-driver host: checks as you type, create and provision, shrink, recompose."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from tests.helpers import remove_guests, remove_volumes, wait_until
from tests.ui.vdi.test_golden_dialog import GUEST, POOL, host
from vmgui.core import metadata, storage
from vmgui.core.domain_xml import DomainXml
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.pool_specs import PoolSpec, find_pool, save_pool
from vmgui.ui.main_window import MainWindow
from vmgui.ui.vdi.pool_dialog import PUBLISH_FIRST, PoolDialog


@pytest.fixture
def gold(window: MainWindow) -> Iterator[str]:
    """A shut-off guest 'gold' with v1 of its golden image published: its UUID."""
    conn = host(window)
    path = storage.create_volume(conn, POOL, "gold.qcow2", storage.GIB).path
    uuid: str = conn.defineXML(GUEST.format(path=path)).UUIDString()
    golden.publish(conn, uuid, "base install")
    yield uuid
    remove_guests(conn, lambda n: n == "gold" or n.startswith(("office-", "desk-")))
    remove_volumes(conn, POOL, lambda n: n.startswith(("gold", "office-", "desk-")))


def open_dialog(window: MainWindow, spec: PoolSpec | None = None) -> PoolDialog:
    dialog = PoolDialog(window.manager.connections[0], spec, window)
    dialog.show()
    wait_until(lambda: dialog.choices is not None, what="the golden images read")
    return dialog


def visible_box(parent: QWidget, name: str) -> QMessageBox | None:
    return next((b for b in parent.findChildren(QMessageBox, name) if b.isVisible()), None)


def ok(dialog: PoolDialog) -> list[PoolSpec]:
    """Press OK and wait until the dialog closed; what `saved` emitted."""
    emitted: list[PoolSpec] = []
    dialog.saved.connect(emitted.append)
    assert dialog.ok_button.isEnabled(), dialog.problem.text()
    dialog.ok_button.click()
    wait_until(lambda: not dialog.isVisible(), what="the pool set up")
    return emitted


def test_without_a_golden_image_it_says_to_publish_one_first(window: MainWindow) -> None:
    dialog = open_dialog(window)
    dialog.name.setText("office")
    assert dialog.problem.text() == PUBLISH_FIRST and not dialog.ok_button.isEnabled()
    assert dialog.image.count() == 0
    dialog.close()


def test_checks_as_you_type(window: MainWindow, gold: str) -> None:
    save_pool(host(window), PoolSpec("taken", gold, 0, "taken-{n}"))
    dialog = open_dialog(window)
    assert dialog.image.currentText() == "gold" and dialog.version.currentData() == 1
    assert dialog.version.currentText() == f"v1, {golden.golden_images(host(window))[0].versions[0].created[:10]}" \
                                           " — base install"
    assert dialog.memory.text() == "As the golden image (256 MiB)" and dialog.vcpus.text() == "As the golden image (2)"
    assert dialog.problem.text() == "The pool needs a name." and not dialog.ok_button.isEnabled()
    dialog.name.setText("office")
    assert dialog.pattern.text() == "office-{n:02}"  # follows the name until edited
    assert dialog.problem.text() == "" and dialog.ok_button.isEnabled()
    assert dialog.preview.text() == "office-01, office-02, office-03"
    dialog.count.setValue(5)
    assert dialog.preview.text() == "office-01, office-02, office-03…"
    dialog.pattern.setText("desk")
    assert "needs {n}" in dialog.problem.text() and not dialog.ok_button.isEnabled()
    assert dialog.preview.text() == ""
    dialog.pattern.setText("desk-{n:03}")
    dialog.name.setText("office2")
    assert dialog.pattern.text() == "desk-{n:03}"  # edited by hand: kept
    dialog.prestarted.setValue(6)
    assert dialog.problem.text() == "Between 0 and 5 desktops can be pre-started." and not dialog.ok_button.isEnabled()
    dialog.prestarted.setValue(5)
    assert dialog.problem.text() == ""
    dialog.name.setText("taken")
    assert dialog.problem.text() == "There is already a pool named 'taken'." and not dialog.ok_button.isEnabled()
    dialog.name.setText("bad name")
    assert "cannot name a pool" in dialog.problem.text()
    dialog.close()


def test_create_a_pool_of_three_shrink_it_and_recompose_it(window: MainWindow, gold: str) -> None:
    conn = host(window)
    dialog = open_dialog(window)
    dialog.name.setText("office")
    dialog.mode_buttons["reset"].setChecked(True)
    dialog.memory.setValue(512)
    dialog.prestarted.setValue(1)
    saved, = ok(dialog)
    assert (saved.name, saved.size, saved.pattern, saved.mode, saved.memory_mib, saved.vcpus, saved.prestarted,
            saved.version) == ("office", 3, "office-{n:02}", "reset", 512, None, 1, 1)
    assert find_pool(conn, "office") == saved
    made = desktops.desktops(conn, "office")
    assert [(d.name, d.pool, d.version, d.user) for d in made] == [
        (f"office-0{n}", "office", 1, None) for n in (1, 2, 3)]
    for desktop in made:
        dom = conn.lookupByName(desktop.name)
        assert metadata.read_part(dom, "desktop") is not None
        assert DomainXml(dom.XMLDesc(0)).memory_mib == 512
    assert sum(d.running for d in made) == 1  # pre-started
    assert dialog.outcome == "office has 3 desktops; 1 started."
    other = open_dialog(window)  # a new pool's preview skips the names taken on the host
    other.name.setText("lab")
    other.pattern.setText("office-{n:02}")
    assert other.preview.text() == "office-04, office-05, office-06"
    other.close()

    # edit: two desktops (a shut-off, unassigned one goes)
    for d in made:
        if d.running:
            conn.lookupByUUIDString(d.uuid).destroy()
    dialog = open_dialog(window, find_pool(conn, "office"))
    assert dialog.name.isReadOnly() and not dialog.image.isEnabled() and dialog.ok_button.text() == "Save"
    assert dialog.count.value() == 3 and dialog.mode_buttons["reset"].isChecked() and dialog.memory.value() == 512
    dialog.prestarted.setValue(0)
    dialog.count.setValue(2)
    ok(dialog)
    assert [d.name for d in desktops.desktops(conn, "office")] == ["office-01", "office-02"]

    # a new version: the edited pool moves to it; an assigned desktop waits for its next reset
    golden.publish(conn, gold, "with updates")
    alice = desktops.assign_next_free(conn, "office", "alice")
    dialog = open_dialog(window, find_pool(conn, "office"))
    assert dialog.version.currentData() == 1 and dialog.hint.text() == ""
    dialog.version.setCurrentIndex(dialog.version.findData(2))
    assert "moves to v2" in dialog.hint.text()
    saved, = ok(dialog)
    assert saved.version == 2 and find_pool(conn, "office").version == 2
    assert [(d.name, d.version) for d in desktops.desktops(conn, "office")] == [("office-01", 1), ("office-02", 2)]
    assert alice.name == "office-01"
    assert dialog.outcome.startswith("1 desktop moved to v2 now, 1 at their next reset (office-01).")
    wait_until(lambda: visible_box(window, "recomposed") is not None, what="the recompose said")
    box = visible_box(window, "recomposed")
    assert box is not None and box.text() == dialog.outcome
    box.close()


def test_a_failure_is_said_and_the_dialog_stays(window: MainWindow, gold: str) -> None:
    conn = host(window)
    save_pool(conn, PoolSpec("office", gold, 1, "office-{n:02}"))
    pools.provision(conn, "office")
    desktops.assign_next_free(conn, "office", "alice")
    dialog = open_dialog(window, find_pool(conn, "office"))
    dialog.count.setValue(0)
    dialog.ok_button.click()
    wait_until(lambda: visible_box(dialog, "error") is not None, what="the refusal")
    box = visible_box(dialog, "error")
    assert box is not None
    assert "Only 0 desktops of 'office' are unassigned" in box.text() and "Save tries the rest again" in box.text()
    box.close()
    assert dialog.isVisible() and dialog.ok_button.isEnabled() and not dialog.progress.isVisible()
    assert find_pool(conn, "office").size == 0  # the definition is saved; the assigned desktop stays
    assert [d.name for d in desktops.desktops(conn, "office")] == ["office-01"]
    dialog.close()
