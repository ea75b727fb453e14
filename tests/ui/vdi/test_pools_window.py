"""The Desktop Pools window on the test-driver host: pools, desktops with users, search, helpdesk actions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import libvirt
import pytest
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from tests.ui.vdi.test_portal import URI, raw  # noqa: F401  (the same admin set-up: a pool of 3)
from vmgui.console.guest_console import GuestConsole
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.pool_specs import read_pools
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.settings import Settings
from vmgui.ui.vdi.pools_window import PoolsWindow
from vmgui.ui.vdi.screen_watch import ScreenWatch


@pytest.fixture
def window(aloop: asyncio.AbstractEventLoop, raw: libvirt.virConnect, qtbot: QtBot,  # noqa: F811
           settings: Settings) -> Iterator[PoolsWindow]:
    manager = ConnectionManager(stats_interval=0)
    consoles = ConsoleWindow(None, settings=settings)
    win = PoolsWindow(manager, consoles.open_guest)
    qtbot.addWidget(win)
    qtbot.addWidget(consoles)
    conn = manager.add(URI)
    run(conn.connect())
    win.show()
    wait_until(lambda: win.pool_box.count() == 2 and win.table_model.rowCount() == 3, what="the pool and desktops")
    yield win
    consoles.close()
    run(manager.close_all())


def table(win: PoolsWindow) -> list[list[str]]:
    model = win.table_model
    return [[str(model.data(model.index(r, c))) for c in range(4)] for r in range(model.rowCount())]


def select(win: PoolsWindow, name: str) -> None:
    win.select_desktop(name)
    selected = win.selected()
    assert selected is not None and selected[1].name == name


def test_pools_desktops_users_and_search(window: PoolsWindow) -> None:
    assert window.pool_box.itemText(1) == "office: 3 desktops, v1, persistent"
    assert table(window) == [["desk-1", "alice", "Shut off", "v1"], ["desk-2", "bob", "Shut off", "v1"],
                             ["desk-3", "—", "Shut off", "v1"]]
    window.search.setText("bob")
    assert [row[0] for row in table(window)] == ["desk-2"]
    window.search.setText("free")
    assert [row[0] for row in table(window)] == ["desk-3"]
    window.search.clear()
    window.tabs.setCurrentWidget(window.screens)
    window.screens.grid_model.rebuild_if_stale()
    model = window.screens.grid_model
    assert [model.data(model.index(r)) for r in range(model.rowCount())] == [
        "desk-1 · alice\nShut off", "desk-2 · bob\nShut off", "desk-3 · free\nShut off"]


def test_a_new_golden_version_shows_who_moves_at_next_reset(window: PoolsWindow, raw: libvirt.virConnect) -> None:  # noqa: F811
    raw.lookupByName("desk-1").create()
    v2 = golden.publish(raw, raw.lookupByName("gold").UUIDString(), "v2")
    pools.recompose(raw, "office", v2.number)
    wait_until(lambda: window.pool_box.itemText(1) == "office: 3 desktops, v2, persistent", what="the pool reread")
    wait_until(lambda: [row[3] for row in table(window)] == ["v1 (v2 at next reset)", "v1 (v2 at next reset)", "v2"],
               what="the versions")
    select(window, "desk-1")
    run(window.reset_desktop(*window.selected(), ask=False))  # type: ignore[misc]
    wait_until(lambda: table(window)[0][2:] == ["Shut off (forced off)", "v2"], what="desk-1 reset onto v2")
    assert "desk-1 is back to golden image v2" in window.status.text()


def test_reassign_free_copy_and_watch_a_desktop(window: PoolsWindow, raw: libvirt.virConnect) -> None:  # noqa: F811
    select(window, "desk-1")
    conn, guest = window.selected()  # type: ignore[misc]
    run(window.assign_desktop(conn, guest, "dave"))
    wait_until(lambda: table(window)[0][1] == "dave", what="dave's now")
    run(window.assign_desktop(conn, guest, ""))
    wait_until(lambda: table(window)[0][1] == "—", what="free")
    run(window.copy_desktop(conn, guest, "desk-1-debug", linked=False))
    copy = raw.lookupByName("desk-1-debug")
    assert desktops.read_desktop(copy) is None and window.table_model.rowCount() == 3  # not in the pool
    copy.undefine()
    raw.lookupByName("desk-1").create()
    view = run(window._watch(conn, conn.guests[guest.uuid]))
    assert isinstance(view, ConsoleView) and view.display.view_only and view.title == "desk-1 (view only)"
    # VNC clients share the display; a second SPICE client would take it from the user
    assert isinstance(view.controller, GuestConsole) and view.controller.kinds == ("vnc",)


def test_a_spice_only_desktop_is_watched_through_screenshots(window: PoolsWindow, raw: libvirt.virConnect) -> None:  # noqa: F811
    dom = raw.lookupByName("desk-2")
    xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE).replace("</devices>", "<graphics type='spice'/></devices>")
    raw.defineXML(xml)  # the same desktop (its metadata too), now with a SPICE display only
    dom.create()
    conn = window.manager.connections[0]
    wait_until(lambda: conn.guests[dom.UUIDString()].state.is_active, what="running")
    watch = run(window._watch(conn, conn.guests[dom.UUIDString()]))
    assert isinstance(watch, ScreenWatch) and watch.windowTitle() == "desk-2 (view only) — vmgui"
    wait_until(lambda: watch.pictures >= 2, what="two pictures of the screen")
    pixmap = watch.screen_label.pixmap()
    assert not pixmap.isNull() and pixmap.width() > 100
    dom.destroy()
    wait_until(lambda: watch.screen_label.text() == "The desktop is not running.", what="the stopped desktop said")
    watch.close()


def test_removing_a_pool_asks_first_and_names_the_users(window: PoolsWindow, raw: libvirt.virConnect,  # noqa: F811
                                                        qtbot: QtBot) -> None:
    window.pool_box.setCurrentIndex(1)
    window.remove_button.click()
    wait_until(lambda: any(b.isVisible() for b in window.findChildren(QMessageBox)), what="the question")
    box = next(b for b in window.findChildren(QMessageBox) if b.isVisible())
    assert "alice, bob" in box.informativeText()
    remove = next(b for b in box.buttons() if b.text() == "Remove Pool")
    remove.click()
    wait_until(lambda: window.pool_box.count() == 1 and window.table_model.rowCount() == 0, what="the pool gone")
    assert read_pools(raw) == []
    assert [d.name() for d in raw.listAllDomains(0) if d.name().startswith("desk-")] == []
