"""The console window on a fake VNC server behind a test-driver guest: tabs, scaling, input, keys, states."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QAction, QGuiApplication, QImage, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from tests.console.console_host import UUIDS, write_host
from tests.console.fake_rfb import FakeRfbServer
from tests.helpers import run, wait_until
from tests.ui.console.conftest import open_desk
from vmgui.console.state import ConsoleState
from vmgui.console.vv_file import read_vv
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.lifecycle import Action
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.console.display import ConsoleDisplay
from vmgui.ui.main_window import MainWindow
from vmgui.ui.settings import Settings

BLUE = (10, 120, 200)
RED = (220, 30, 30)


@pytest.fixture
def server() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(320, 200, name="desk") as srv:
        srv.fill(BLUE)
        srv.fill_rect(0, 0, 40, 30, RED)
        yield srv





def main_window_on(uri: str, qtbot: QtBot, tmp_path: Path,
                   **kwargs: Any) -> tuple[MainWindow, ConnectionManager, Connection]:
    """A main window with its own connection to `uri`, listed."""
    manager = ConnectionManager(stats_interval=0)
    main = MainWindow(manager, Settings(QSettings(str(tmp_path / "s.conf"), QSettings.Format.IniFormat)), **kwargs)
    qtbot.addWidget(main)
    manager_conn = manager.add(uri)
    run(manager_conn.connect())
    wait_until(lambda: manager_conn.list_loaded, what="list")
    return main, manager, manager_conn


def key_events(server: FakeRfbServer) -> list[tuple[bool, int]]:
    return [(e[1], e[3]) for e in server.events if e[0] == "qemu_key"]


def pixel(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_a_console_opens_as_a_tab_showing_the_guest_screen(window: ConsoleWindow, conn: Connection,
                                                           tmp_path: Path) -> None:
    view = open_desk(window, conn)
    assert window.tabs.count() == 1 and window.tabs.tabText(0) == "desk"
    assert "Connected" in window.windowTitle()
    image = view.display.image()
    assert image is not None and pixel(image, 5, 5) == RED and pixel(image, 200, 100) == BLUE
    shot = tmp_path / "shot.png"
    assert view.save_screenshot(str(shot))
    saved = QImage(str(shot))
    assert (saved.width(), saved.height()) == (320, 200) and pixel(saved, 5, 5) == RED
    again = window.open_guest(conn, UUIDS["desk"])  # the same guest again: the same tab
    assert again is view and window.tabs.count() == 1
    assert view.spice_tools is not None and not view.spice_tools.clipboard_action.isVisible()  # VNC: no SPICE tools


def test_fit_keeps_the_aspect_ratio_and_zoom_steps(window: ConsoleWindow, conn: Connection) -> None:
    view = open_desk(window, conn)
    display = view.display
    window.resize(700, 900)  # fit: the width limits the scale; the screen is centred vertically
    wait_until(lambda: display.width() > 600, what="relayout")
    w, h = display.width(), display.height()
    assert display.fit and h / 200 > w / 320 and display.scale() == pytest.approx(w / 320)
    assert display.target().getRect() == pytest.approx((0, (h - 200 * w / 320) / 2, w, 200 * w / 320))
    assert display.to_guest(display.target().center()) == (160, 100)
    assert view.zoom_label.text() == f"{w / 320 * 100:.0f} %"
    view.actual_action.trigger()
    assert not display.fit and display.effective_zoom() == pytest.approx(1.0)
    assert display.size().toTuple() == (320, 200) and not view.scroll_area.widgetResizable()
    assert view.zoom_label.text() == "100 %"
    view.zoom_in_action.trigger()
    assert display.effective_zoom() == pytest.approx(1.25) and display.size().toTuple() == (400, 250)
    for _ in range(20):
        view.zoom_in_action.trigger()
    assert display.effective_zoom() == pytest.approx(4.0) and view.zoom_label.text() == "400 %"
    for _ in range(20):
        view.zoom_out_action.trigger()
    assert display.effective_zoom() == pytest.approx(0.25)
    view.fit_action.trigger()
    assert display.fit and view.scroll_area.widgetResizable() and view.fit_action.isChecked()


def test_updates_repaint_only_their_rectangle(window: ConsoleWindow, conn: Connection,
                                             server: FakeRfbServer) -> None:
    view = open_desk(window, conn)
    view.display.set_zoom(1.0)
    rects: list[tuple[int, int, int, int]] = []
    view.session.frame_updated.connect(lambda *r: rects.append(r))
    server.fill_rect(100, 50, 16, 8, RED)
    wait_until(lambda: bool(rects), what="an update")
    assert rects[0] == (100, 50, 16, 8)
    assert view.display.widget_rect(*rects[0]).getRect() == (100, 50, 16, 8)
    wait_until(lambda: (img := view.display.image()) is not None and pixel(img, 105, 52) == RED, what="new pixels")


def test_send_key_menu_sends_ctrl_alt_del(window: ConsoleWindow, conn: Connection, server: FakeRfbServer) -> None:
    view = open_desk(window, conn)
    labels = [a.text() for a in view.send_key_menu.actions()]
    assert labels[:3] == ["Ctrl+Alt+Del", "Ctrl+Alt+Backspace", "Ctrl+Alt+F1"] and "PrintScreen" in labels
    next(a for a in view.send_key_menu.actions() if a.text() == "Ctrl+Alt+Del").trigger()
    wait_until(lambda: len(key_events(server)) == 6, what="six key events")
    assert key_events(server) == [(True, 0x1D), (True, 0x38), (True, 0xD3), (False, 0xD3), (False, 0x38),
                                  (False, 0x1D)]


def test_typing_and_clicking_reach_the_guest_and_ctrl_alt_releases_the_grab(
        window: ConsoleWindow, conn: Connection, server: FakeRfbServer) -> None:
    view = open_desk(window, conn)
    display = view.display
    display.set_zoom(1.0)
    QTest.mouseClick(display, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(30, 40))
    wait_until(lambda: ("pointer", 1, 30, 40) in server.events and ("pointer", 0, 30, 40) in server.events,
               what="click")
    assert display.grabbed and "Ctrl+Alt to release" in view.hint.text()
    QTest.keyClicks(display, "ls")
    wait_until(lambda: len(key_events(server)) == 4, what="typed keys")
    assert key_events(server) == [(True, 0x26), (False, 0x26), (True, 0x1F), (False, 0x1F)]
    QTest.keyPress(display, Qt.Key.Key_Control)
    QTest.keyPress(display, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier)
    assert not display.grabbed and "Click in the console" in view.hint.text()
    wait_until(lambda: key_events(server)[-2:] in ([(False, 0x1D), (False, 0x38)], [(False, 0x38), (False, 0x1D)]),
               what="modifiers released in the guest")
    QTest.keyRelease(display, Qt.Key.Key_Alt)
    QTest.keyRelease(display, Qt.Key.Key_Control)
    server.clear_events()
    QTest.mouseMove(display, QPoint(50, 60))
    wait_until(lambda: ("pointer", 0, 50, 60) in server.events, what="motion")
    server.clear_events()
    wheel = QWheelEvent(QPointF(50, 60), display.mapToGlobal(QPointF(50, 60)), QPoint(0, 0), QPoint(0, -240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(display, wheel)  # two notches down: RFB button 5 pressed and released twice
    wait_until(lambda: [e for e in server.events if e[0] == "pointer"] == [("pointer", 16, 50, 60),
               ("pointer", 0, 50, 60)] * 2, what="wheel")


def test_type_clipboard_types_its_text(window: ConsoleWindow, conn: Connection, server: FakeRfbServer) -> None:
    view = open_desk(window, conn)
    QGuiApplication.clipboard().setText("Hi\n")
    view.type_clipboard_action.trigger()
    # H needs Shift: shift down, h, shift up; then i; then Return
    wait_until(lambda: len(key_events(server)) == 8, what="typed clipboard")
    assert key_events(server) == [(True, 0x2A), (True, 0x23), (False, 0x23), (False, 0x2A),
                                  (True, 0x17), (False, 0x17), (True, 0x1C), (False, 0x1C)]


def test_fullscreen_hides_the_chrome_and_comes_back(window: ConsoleWindow, conn: Connection) -> None:
    view = open_desk(window, conn)
    view.fullscreen_action.trigger()
    assert window.isFullScreen() and not window.tabs.tabBar().isVisible()
    assert view.toolbar.parent() is view and view._layout.indexOf(view.toolbar) == -1
    assert view.fullscreen_action.isChecked() and view.toolbar.isVisible()
    wait_until(lambda: not view.toolbar.isVisible(), timeout=5, what="the overlay toolbar hiding itself")
    QTest.mouseMove(view.display, QPoint(200, 1))  # the pointer at the top edge brings it back
    wait_until(lambda: view.toolbar.isVisible(), what="the overlay toolbar coming back")
    assert view.toolbar.geometry().top() == 0 and view.toolbar.width() == view.width()
    view.fullscreen_action.trigger()
    assert not window.isFullScreen() and window.tabs.tabBar().isVisible()
    assert view._layout.indexOf(view.toolbar) == 0 and view.toolbar.isVisible()


def test_console_follows_the_guest_off_and_on(window: ConsoleWindow, conn: Connection) -> None:
    view = open_desk(window, conn)
    run(conn.perform(UUIDS["desk"], Action.FORCE_OFF))
    wait_until(lambda: view.controller.status.state is ConsoleState.NOT_RUNNING, what="not running")
    assert "Guest not running" in view.hint.text() and "Guest not running" in window.windowTitle()
    run(conn.perform(UUIDS["desk"], Action.START))
    wait_until(lambda: view.controller.status.state is ConsoleState.CONNECTED and view.session.frames > 0,
               what="reconnected")
    assert "Connected" in window.windowTitle()


def test_detach_moves_the_console_into_its_own_window(window: ConsoleWindow, conn: Connection, qtbot: QtBot) -> None:
    view = open_desk(window, conn)
    view.detach_action.trigger()
    assert window.tabs.count() == 0 and not window.isVisible()
    others = [w for w in QApplication.topLevelWidgets() if isinstance(w, ConsoleWindow) and w is not window]
    detached = next(w for w in others if view in w.views())
    qtbot.addWidget(detached)
    assert detached.isVisible() and view.session.status.state is ConsoleState.CONNECTED
    detached.tabs.tabCloseRequested.emit(0)
    state: ConsoleState = view.session.status.state  # read anew: mypy would keep the CONNECTED narrowing
    assert state is ConsoleState.DISCONNECTED and detached.tabs.count() == 0


def test_a_password_prompt_appears_and_connects(aloop: asyncio.AbstractEventLoop, tmp_path: Path,
                                               window: ConsoleWindow) -> None:
    with FakeRfbServer(64, 48, auth="vnc", password="s3cret") as srv:
        conn = Connection(write_host(tmp_path, srv.port), stats_interval=0)
        run(conn.connect())
        wait_until(lambda: conn.list_loaded, what="guest list")
        view = window.open_guest(conn, UUIDS["desk"])
        wait_until(lambda: not view.password_bar.isHidden(), what="password bar")
        assert "password" in view.password_label.text().lower()
        QTest.keyClicks(view.password_edit, "wrong")
        QTest.keyClick(view.password_edit, Qt.Key.Key_Return)
        wait_until(lambda: "authentication failed" in view.password_label.text().lower(), what="failure shown")
        QTest.keyClicks(view.password_edit, "s3cret")
        QTest.keyClick(view.password_edit, Qt.Key.Key_Return)
        wait_until(lambda: view.session.status.state is ConsoleState.CONNECTED, what="connected")
        assert view.password_bar.isHidden()
        window.close_view(view)
        run(conn.close())


def test_double_click_in_the_main_window_opens_the_console(conn: Connection, qtbot: QtBot, tmp_path: Path) -> None:
    main, manager, manager_conn = main_window_on(conn.uri, qtbot, tmp_path)
    main.show()
    index = main.model.index_of_guest(manager_conn, UUIDS["desk"])
    main.tree.doubleClicked.emit(index)
    consoles = main.console_window()
    assert consoles.isVisible() and consoles.tabs.tabText(0) == "desk"
    view = consoles.current_view()
    assert view is not None
    wait_until(lambda: view.session.frames > 0, what="frames")
    main.close()
    assert view.session.status.state is ConsoleState.DISCONNECTED
    run(manager.close_all())


def test_the_release_combination_is_chosen_saved_and_used(conn: Connection, qtbot: QtBot, tmp_path: Path) -> None:
    settings = Settings(QSettings(str(tmp_path / "s.conf"), QSettings.Format.IniFormat))
    window = ConsoleWindow(settings=settings)
    qtbot.addWidget(window)
    view = open_desk(window, conn)
    display = view.display
    ctrl_alt = view.findChild(QAction, "release_ctrl+alt")
    ctrl_alt_shift = view.findChild(QAction, "release_ctrl+alt+shift")
    assert ctrl_alt is not None and ctrl_alt_shift is not None
    assert ctrl_alt.isChecked()
    ctrl_alt_shift.trigger()
    assert settings.release_combo() == "ctrl+alt+shift" and "Ctrl+Alt+Shift" in display.release_label
    display.set_grabbed(True)
    assert "press Ctrl+Alt+Shift to release" in view.hint.text()
    QTest.keyPress(display, Qt.Key.Key_Control)
    QTest.keyPress(display, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier)
    assert display.grabbed  # Ctrl+Alt alone no longer releases
    QTest.keyPress(display, Qt.Key.Key_Shift, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
    assert not display.grabbed
    other = ConsoleWindow(settings=settings)  # a new window starts with the saved choice
    qtbot.addWidget(other)
    assert other.open_guest(conn, UUIDS["desk"]).display.release_label == "Ctrl+Alt+Shift"


def test_one_to_one_is_one_guest_pixel_per_device_pixel_on_hidpi(window: ConsoleWindow, conn: Connection,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    view = open_desk(window, conn)
    monkeypatch.setattr(ConsoleDisplay, "devicePixelRatioF", lambda _self: 2.0)
    view.actual_action.trigger()
    display = view.display
    # 320x200 guest pixels on a 2x screen: 160x100 logical pixels, i.e. 320x200 device pixels.
    assert display.size().toTuple() == (160, 100) and display.effective_zoom() == pytest.approx(1.0)
    assert view.zoom_label.text() == "100 %"
    assert display.to_guest(QPointF(80, 50)) == (160, 100)
    view.zoom_in_action.trigger()
    assert display.size().toTuple() == (200, 125) and view.zoom_label.text() == "125 %"


def test_open_in_remote_viewer_hands_a_vv_file_to_the_viewer(conn: Connection, qtbot: QtBot, tmp_path: Path,
                                                             server: FakeRfbServer) -> None:
    launched: list[Path] = []
    main, manager, manager_conn = main_window_on(conn.uri, qtbot, tmp_path, launch_viewer=launched.append)
    main.select_guest(manager_conn, UUIDS["desk"])
    assert main.external_viewer_action.isEnabled()
    main.external_viewer_action.trigger()
    wait_until(lambda: bool(launched), what="the viewer launched")
    vv = read_vv(launched[0])
    launched[0].unlink()
    assert (vv.type, vv.host, vv.port, vv.title, vv.delete_this_file) == ("vnc", "127.0.0.1", server.port, "desk",
                                                                           True)
    run(manager.close_all())


def test_closing_the_main_window_closes_detached_consoles_too(conn: Connection, qtbot: QtBot, tmp_path: Path) -> None:
    main, manager, manager_conn = main_window_on(conn.uri, qtbot, tmp_path)
    view = open_desk(main.console_window(), manager_conn)
    detached = main.console_window().detach(view)
    assert detached is not main.console_window() and view in detached.views()
    main.close()
    assert view.session.status.state is ConsoleState.DISCONNECTED and not detached.isVisible()
    run(manager.close_all())
