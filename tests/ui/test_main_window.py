"""The main window on the test-driver host: content, filter, sorting, selection, actions and dialogs."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from vmgui.core.domstate import GuestState
from vmgui.core.lifecycle import Action
from vmgui.ui.guest_model import Column
from vmgui.ui.main_window import MainWindow
from vmgui.ui.tags_dialog import TagsDialog


def rows(win: MainWindow, column: int = Column.NAME) -> list[str]:
    parent = win.model.index(0, 0)
    return [win.model.index(r, column, parent).data() for r in range(win.model.rowCount(parent))]


def guest_uuid(win: MainWindow, name: str) -> str:
    conn = win.manager.connections[0]
    return next(g.uuid for g in conn.guests.values() if g.name == name)


def select(win: MainWindow, *names: str) -> None:
    conn = win.manager.connections[0]
    for i, name in enumerate(names):
        win.select_guest(conn, guest_uuid(win, name), add=i > 0)


def message_box(name: str) -> QMessageBox | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.isVisible() and w.objectName() == name:
            return w
    return None


def test_tree_lists_connection_and_guests_sorted(window: MainWindow) -> None:
    top = window.model.index(0, 0)
    assert top.data().startswith("Test") and window.model.index(0, Column.STATE).data() == "Connected"
    assert rows(window) == sorted(rows(window), key=str.casefold)
    assert "paused-desktop" in rows(window)
    states = dict(zip(rows(window), rows(window, Column.STATE), strict=True))
    assert states["paused-desktop"] == "Paused" and states["win11-template"] == "Shut off"
    assert states["crashed-guest"] == "Crashed"
    tags = dict(zip(rows(window), rows(window, Column.TAGS), strict=True))
    assert tags["web-frontend"] == "prod, web"
    assert window.tree.isExpanded(top)
    wait_until(lambda: "9 guests, 3 running · 1 of 1 connections up" in window.status.text(), what="status")


def test_sort_by_state_descending(window: MainWindow) -> None:
    window.tree.sortByColumn(Column.STATE, Qt.SortOrder.DescendingOrder)
    states = rows(window, Column.STATE)
    assert states == sorted(states, reverse=True)


def test_filter_by_name_state_and_tag(window: MainWindow, qtbot: QtBot) -> None:
    QTest.keyClicks(window.search, "db")
    assert rows(window) == ["db-primary"]
    window.search.clear()
    QTest.keyClicks(window.search, "paused")
    assert rows(window) == ["paused-desktop"]
    window.search.clear()
    QTest.keyClicks(window.search, "tag:vdi")
    assert rows(window) == ["paused-desktop", "win11-template"]
    window.search.clear()
    QTest.keyClicks(window.search, "prod state:running")
    assert rows(window) == ["db-primary", "web-frontend"]
    wait_until(lambda: window.status.text().startswith("2 shown of 9 guests"), what="status")
    window.search.clear()
    QTest.keyClicks(window.search, "no-such-guest")
    assert rows(window) == [] and window.model.rowCount() == 1  # the connection row stays
    window.search.clear()
    assert len(rows(window)) == 9


def test_actions_enable_by_state(window: MainWindow) -> None:
    acts = window.guest_actions.actions
    select(window, "win11-template")
    assert acts[Action.START].isEnabled() and not acts[Action.SHUTDOWN].isEnabled()
    assert not acts[Action.PAUSE].isEnabled() and not acts[Action.FORCE_OFF].isEnabled()
    select(window, "paused-desktop")
    assert acts[Action.RESUME].isEnabled() and not acts[Action.PAUSE].isEnabled()
    assert acts[Action.FORCE_OFF].isEnabled() and not acts[Action.START].isEnabled()
    window.tree.clearSelection()
    assert not any(a.isEnabled() for a in acts.values())


def test_bulk_start_of_a_multi_selection(window: MainWindow) -> None:
    select(window, "win11-template", "old-ci-runner", "web-frontend")
    start = window.guest_actions.actions[Action.START]
    assert start.text() == "Start (2)"
    start.trigger()
    conn = window.manager.connections[0]
    wait_until(lambda: all(conn.guests[guest_uuid(window, n)].state is GuestState.RUNNING
                           for n in ("win11-template", "old-ci-runner")), what="both started")
    wait_until(lambda: dict(zip(rows(window), rows(window, Column.STATE), strict=True))["old-ci-runner"]
               == "Running (booted)", what="list shows it")


def test_force_off_asks_first_and_cancel_keeps_guests_running(window: MainWindow, qtbot: QtBot) -> None:
    conn = window.manager.connections[0]
    select(window, "web-frontend", "db-primary")
    window.guest_actions.actions[Action.FORCE_OFF].trigger()
    wait_until(lambda: message_box("confirm") is not None, what="confirmation")
    box = message_box("confirm")
    assert box is not None and box.text() == "Force Off 'db-primary', 'web-frontend'?"
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_until(lambda: message_box("confirm") is None, what="box closed")
    assert conn.guests[guest_uuid(window, "web-frontend")].state is GuestState.RUNNING

    window.guest_actions.actions[Action.FORCE_OFF].trigger()
    wait_until(lambda: message_box("confirm") is not None, what="confirmation")
    box = message_box("confirm")
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Force Off").click()
    wait_until(lambda: all(conn.guests[guest_uuid(window, n)].state is GuestState.SHUTOFF
                           for n in ("web-frontend", "db-primary")), what="forced off")


def test_action_failure_shows_a_message(window: MainWindow) -> None:
    conn = window.manager.connections[0]
    session = conn._session
    assert session is not None
    select(window, "old-ci-runner")
    session.conn.lookupByName("old-ci-runner").undefine()  # gone behind our back, before the event lands
    task = window.guest_actions.trigger(Action.START)
    wait_until(task.done, what="action")
    box = message_box("error")
    assert box is not None and "Could not" in box.text()
    box.close()


def test_edit_tags_dialog_validates_and_saves(window: MainWindow, qtbot: QtBot) -> None:
    conn = window.manager.connections[0]
    select(window, "build-agent")
    assert window.tags_action.isEnabled()
    window.tags_action.trigger()
    dialog = window.findChild(TagsDialog, "tags_dialog")
    assert dialog is not None and dialog.isVisible()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.edit.setText("ci, <bad>")
    assert not ok.isEnabled() and "characters" in dialog.error.text()
    dialog.edit.setText("ci, linux")
    assert ok.isEnabled()
    ok.click()
    uuid = guest_uuid(window, "build-agent")
    wait_until(lambda: conn.guests[uuid].tags == ("ci", "linux"), what="tags saved")
    QTest.keyClicks(window.search, "tag:linux")
    assert rows(window) == ["build-agent"]


def test_disconnect_and_reconnect_from_context(window: MainWindow) -> None:
    conn = window.manager.connections[0]
    run(conn.disconnect())
    assert window.model.rowCount(window.model.index(0, 0)) == 0
    assert window.model.index(0, Column.STATE).data() == "Disconnected"
    run(conn.connect())
    wait_until(lambda: window.model.rowCount(window.model.index(0, 0)) == 9, what="rows back")
    assert window.tree.isExpanded(window.model.index(0, 0))


def test_a_connection_collapsed_by_the_user_stays_collapsed_when_its_guests_arrive(window: MainWindow) -> None:
    conn = window.manager.connections[0]
    run(conn.disconnect())
    top = window.model.index(0, 0)
    window.tree.collapse(top)
    run(conn.connect())
    wait_until(lambda: window.model.rowCount(top) == 9, what="rows back")
    assert not window.tree.isExpanded(top)
    window.tree.expand(top)
    assert window.tree.visualRect(window.model.index(8, 0, top)).isValid()  # the rows are laid out


def test_add_connection_is_saved(window: MainWindow, connection_answers: list[tuple[str, bool]]) -> None:
    connection_answers.append(("test:///default", False))
    window.add_connection_action.trigger()
    assert [c.uri for c in window.manager.connections][-1] == "test:///default"
    wait_until(lambda: window.manager.connections[-1].list_loaded, what="second connection")
    assert window.model.rowCount() == 2
    assert ("test:///default", False) in [(c.uri, c.autoconnect) for c in window.settings.connections()]
    assert isinstance(window.model.index(1, 0), QModelIndex)


def test_window_geometry_persists(window: MainWindow) -> None:
    window.resize(700, 450)
    window.close()
    assert window.settings.window_geometry() is not None and window.settings.header_state() is not None


def test_stats_interval_menu_applies_and_persists(window: MainWindow) -> None:
    action = window.findChild(QAction, "stats_interval_5")
    assert action is not None and not action.isChecked()
    action.trigger()
    assert action.isChecked() and window.settings.stats_interval() == 5.0
    assert all(c.stats_interval == 5.0 for c in window.manager.connections)


def test_one_guest_actions_follow_the_selection(window: MainWindow) -> None:
    names = ("action_tags", "action_clone", "action_delete", "action_snapshots", "action_external_viewer")
    actions = [window.findChild(QAction, n) for n in names]
    assert all(a is not None for a in actions)

    def enabled() -> list[bool]:
        return [a.isEnabled() for a in actions if a is not None]

    window.tree.clearSelection()
    assert enabled() == [False] * 5
    select(window, "web-frontend")
    assert enabled() == [True] * 5
    select(window, "web-frontend", "db-primary")
    assert enabled() == [False] * 5
