"""The end-user portal on the test-driver host: only my desktops, live; one click opens one; reset; claiming one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import libvirt
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QShortcut
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from tests.core.vdi.test_golden import GUEST
from tests.helpers import remove_guests, remove_volumes, run, wait_until
from vmgui.core import storage
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.domstate import GuestState
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.pool_specs import PoolSpec, save_pool
from vmgui.ui.settings import Settings
from vmgui.ui.vdi.portal import PortalWindow

URI = "test:///default"


@pytest.fixture
def raw() -> Iterator[libvirt.virConnect]:
    """The host as an admin set it up: a pool of 3 desktops, one each for alice and bob, one free."""
    c = libvirt.open(URI)
    storage.create_volume(c, "default-pool", "gold.qcow2", storage.GIB)
    c.defineXML(GUEST)
    uuid = c.lookupByName("gold").UUIDString()
    golden.publish(c, uuid, "v1")
    save_pool(c, PoolSpec("office", uuid, 3, "desk-{n}"))
    first, second, _third = pools.provision(c, "office")
    desktops.assign(c, first.uuid, "alice")
    desktops.assign(c, second.uuid, "bob")
    yield c
    remove_guests(c, lambda n: n == "gold" or n.startswith("desk-"))
    remove_volumes(c, "default-pool")
    c.close()


def portal_for(user: str, qtbot: QtBot, settings: Settings) -> tuple[PortalWindow, ConnectionManager]:
    manager = ConnectionManager(stats_interval=0)
    portal = PortalWindow(manager, user=user, settings=settings)
    qtbot.addWidget(portal)
    conn = manager.add(URI)
    run(conn.connect())
    portal.show()
    wait_until(lambda: conn.list_loaded, what="the guest list")
    return portal, manager


def tiles(portal: PortalWindow) -> list[str]:
    """The tiles the portal shows (none while the grid is hidden)."""
    if not portal.grid.isVisible():
        return []
    model = portal.grid.grid_model
    return [str(model.data(model.index(row))) for row in range(model.rowCount())]


@pytest.fixture
def alice(aloop: asyncio.AbstractEventLoop, raw: libvirt.virConnect, qtbot: QtBot,
          settings: Settings) -> Iterator[PortalWindow]:
    portal, manager = portal_for("alice", qtbot, settings)
    yield portal
    portal.console_window.close()
    run(manager.close_all())


def test_only_my_desktops_show_and_follow_assignments_live(alice: PortalWindow, raw: libvirt.virConnect) -> None:
    wait_until(lambda: tiles(alice) == ["desk-1\nShut off · office"], what="alice's desktop")
    assert alice.grid.isVisible() and not alice.empty.isVisible()
    desktops.assign(raw, raw.lookupByName("desk-3").UUIDString(), "alice")  # the helpdesk gives her another
    wait_until(lambda: len(tiles(alice)) == 2, what="the new desktop")
    desktops.assign(raw, raw.lookupByName("desk-1").UUIDString(), "bob")  # and takes one back
    wait_until(lambda: tiles(alice) == ["desk-3\nShut off · office"], what="the desktop taken back")


def test_one_click_starts_my_desktop_and_opens_it_full_screen(alice: PortalWindow, raw: libvirt.virConnect,
                                                              qtbot: QtBot) -> None:
    wait_until(lambda: len(tiles(alice)) == 1, what="alice's desktop")
    rect = alice.grid.visualRect(alice.grid.grid_model.index(0))
    QTest.mouseClick(alice.grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    dom = raw.lookupByName("desk-1")
    wait_until(lambda: bool(dom.isActive()), what="the desktop started")
    wait_until(lambda: len(alice.console_window.views()) == 1, what="its console")
    view = alice.console_window.views()[0]
    assert view.title == "desk-1" and view.fullscreen and alice.console_window.isVisible()
    dom.destroy()  # it shuts down: the screen goes back to the portal
    wait_until(lambda: not alice.console_window.views(), what="the console closed")


def test_reset_to_golden_image_gives_a_fresh_desktop_and_starts_it_again(alice: PortalWindow,
                                                                         raw: libvirt.virConnect) -> None:
    dom = raw.lookupByName("desk-1")
    v2 = golden.publish(raw, raw.lookupByName("gold").UUIDString(), "v2")
    pools.recompose(raw, "office", v2.number)  # alice's desktop moves at its next reset
    dom.create()
    conn = alice.manager.connections[0]
    wait_until(lambda: conn.guests[dom.UUIDString()].state is GuestState.RUNNING, what="running")
    assert run(alice.reset_desktop(conn, conn.guests[dom.UUIDString()], ask=False))
    assert desktops.read_desktop(dom).version == 2  # type: ignore[union-attr]
    wait_until(lambda: bool(dom.isActive()), what="started again")
    assert [v.title for v in alice.console_window.views()] == ["desk-1"]  # and shown again


def test_kiosk_fills_the_screen_and_only_the_exit_combination_leaves(
        aloop: asyncio.AbstractEventLoop, raw: libvirt.virConnect, qtbot: QtBot, settings: Settings) -> None:
    manager = ConnectionManager(stats_interval=0)
    portal = PortalWindow(manager, user="alice", kiosk=True, settings=settings)
    qtbot.addWidget(portal)
    try:
        conn = manager.add(URI)
        run(conn.connect())
        portal.show()
        wait_until(lambda: len(tiles(portal)) == 1, what="alice's desktop")
        assert portal.isFullScreen()
        portal.close()
        assert portal.isVisible()  # closing is refused
        view = run(portal.open_desktop(conn, raw.lookupByName("desk-1").UUIDString()))
        assert view is not None and view.kiosk and portal.console_window.kiosk
        view.display.exit_combo_pressed.emit()  # Ctrl+Alt+Shift+Q in the console: back to the portal
        assert not portal.console_window.views() and portal.isVisible()
        leave = portal.findChild(QShortcut)
        assert leave is not None and leave.key().toString() == "Ctrl+Alt+Shift+Q"
        leave.activated.emit()
        assert not portal.isVisible()
    finally:
        run(manager.close_all())


def test_a_user_without_a_desktop_can_take_a_free_one(aloop: asyncio.AbstractEventLoop, raw: libvirt.virConnect,
                                                      qtbot: QtBot, settings: Settings) -> None:
    portal, manager = portal_for("carol", qtbot, settings)
    try:
        wait_until(lambda: portal.empty.isVisible(), what="the empty state")
        assert "No desktop is assigned to carol" in portal.empty.text()
        wait_until(lambda: portal.findChild(QPushButton, "claim_office") is not None, what="the offer")
        button = portal.findChild(QPushButton, "claim_office")
        assert button is not None and button.text() == "Get a desktop from office (1 free)"
        button.click()
        wait_until(lambda: tiles(portal) == ["desk-3\nShut off · office"], what="carol's new desktop")
        assert desktops.read_desktop(raw.lookupByName("desk-3")).user == "carol"  # type: ignore[union-attr]
        wait_until(lambda: portal.findChild(QPushButton, "claim_office") is None, what="the offer gone")
    finally:
        run(manager.close_all())


def test_a_user_gets_a_pre_started_desktop_and_the_next_one_is_started(
        aloop: asyncio.AbstractEventLoop, raw: libvirt.virConnect, qtbot: QtBot, settings: Settings) -> None:
    gold = raw.lookupByName("gold").UUIDString()
    save_pool(raw, PoolSpec("office", gold, 4, "desk-{n}", prestarted=1))
    pools.provision(raw, "office")
    assert pools.prestart(raw, "office") == ["desk-3"]
    portal, manager = portal_for("carol", qtbot, settings)
    try:
        wait_until(lambda: portal.findChild(QPushButton, "claim_office") is not None, what="the offer")
        button = portal.findChild(QPushButton, "claim_office")
        assert button is not None
        button.click()
        wait_until(lambda: tiles(portal) == ["desk-3\nRunning (booted) · office"], what="the running desktop")
        wait_until(lambda: bool(raw.lookupByName("desk-4").isActive()), what="the next one pre-started")
    finally:
        run(manager.close_all())


def answer_restart(portal: PortalWindow, choice: str) -> None:
    wait_until(lambda: any(b.isVisible() for b in portal.findChildren(QMessageBox, "restart_question")),
               what="the question")
    box = next(b for b in portal.findChildren(QMessageBox, "restart_question") if b.isVisible())
    next(b for b in box.buttons() if b.text() == choice).click()


def test_restart_asks_how_and_force_restart_turns_a_hung_desktop_off_and_on(alice: PortalWindow,
                                                                            raw: libvirt.virConnect) -> None:
    dom = raw.lookupByName("desk-1")
    dom.create()
    conn = alice.manager.connections[0]
    uuid = dom.UUIDString()
    wait_until(lambda: conn.guests[uuid].state is GuestState.RUNNING, what="running")
    task = asyncio.ensure_future(alice.restart_desktop(conn, conn.guests[uuid]))
    answer_restart(alice, "Cancel")
    assert run(task) is None and dom.isActive()
    events: list[int] = []  # libvirt's own lifecycle events for the desktop
    callback = raw.domainEventRegisterAny(dom, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          lambda _c, _d, event, _detail, _o: events.append(event), None)
    try:
        task = asyncio.ensure_future(alice.restart_desktop(conn, conn.guests[uuid]))
        answer_restart(alice, "Force Restart")
        assert run(task) == "force"
        wait_until(lambda: events[-2:] == [libvirt.VIR_DOMAIN_EVENT_STOPPED, libvirt.VIR_DOMAIN_EVENT_STARTED],
                   what="turned off and on again")
    finally:
        raw.domainEventDeregisterAny(callback)
    assert dom.isActive()
    assert alice.status.text() == "desk-1 is starting again."
    task = asyncio.ensure_future(alice.restart_desktop(conn, conn.guests[uuid]))
    answer_restart(alice, "Restart")
    assert run(task) == "restart"
