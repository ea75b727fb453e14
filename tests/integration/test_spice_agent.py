"""SPICE with a guest agent (Debian + Xorg + spice-vdagent): clipboard both ways and the guest's resolution."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from tests.integration.conftest import DesktopGuest
from vmgui.console.any_session import AnySession
from vmgui.core.connection import Connection
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.console.spice_tools import NO_CHANNEL


@pytest.fixture
def view(aloop: asyncio.AbstractEventLoop, system_uri: str, running_desktop_guest: DesktopGuest,
         qtbot: QtBot) -> Iterator[ConsoleView]:
    conn = Connection(system_uri, stats_interval=0)
    run(conn.connect())
    wait_until(lambda: any(g.name == running_desktop_guest.name for g in conn.guests.values()), timeout=30,
               what="the guest in the list")
    uuid = next(g.uuid for g in conn.guests.values() if g.name == running_desktop_guest.name)
    window = ConsoleWindow()
    qtbot.addWidget(window)
    console = window.open_guest(conn, uuid)
    session = console.session
    assert isinstance(session, AnySession)
    wait_until(lambda: session.spice is not None and session.spice.agent_connected and session.connected,
               timeout=120, what="the SPICE agent")
    yield console
    window.close()
    run(conn.close())


# Copy text in the guest; xclip stays behind to own the selection, detached from guest-exec's pipes.
COPY = "echo {} | DISPLAY=:0 setsid xclip -selection clipboard >/dev/null 2>&1"


def guest_output(guest: DesktopGuest, script: str, timeout: float = 30) -> str:
    """Run a shell command in the guest while Qt's loop runs (SPICE must answer the agent meanwhile)."""
    pid = guest.run(script)
    done: list[tuple[int, str]] = []

    def finished() -> bool:
        result = guest.result(pid)
        if result is not None:
            done.append(result)
        return bool(done)

    wait_until(finished, timeout=timeout, what=f"'{script}' in the guest")
    code, out = done[0]
    assert code == 0, f"'{script}' exited {code}: {out}"
    return out


def test_clipboard_is_shared_both_ways_only_when_turned_on(view: ConsoleView,
                                                           running_desktop_guest: DesktopGuest) -> None:
    tools = view.spice_tools
    assert tools is not None and not tools.clipboard_action.isChecked()
    # the toolbar hears of the agent through the session's status a moment after the agent connects
    wait_until(lambda: "no SPICE agent" not in tools.clipboard_action.toolTip(), what="the agent in the tooltip")
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("vmgui-host-1")
    tools.clipboard_action.trigger()  # sharing on: the host's text is offered to the guest
    wait_until(lambda: "vmgui-host-1" in guest_output(running_desktop_guest,
                                                      "DISPLAY=:0 timeout 5 xclip -o -selection clipboard || true"),
               timeout=30, what="the host's text in the guest")
    guest_output(running_desktop_guest, COPY.format("vmgui-guest-2"))
    wait_until(lambda: clipboard.text().strip() == "vmgui-guest-2", timeout=20, what="the guest's text on the host")
    tools.clipboard_action.trigger()  # off again: nothing more is exchanged
    assert tools.clipboard_action.text() == "Clipboard: off"
    guest_output(running_desktop_guest, COPY.format("vmgui-guest-3"))
    QTest.qWait(2000)  # time enough for the text to arrive, were it sent
    assert clipboard.text().strip() == "vmgui-guest-2"


def test_resize_guest_follows_the_window(view: ConsoleView, running_desktop_guest: DesktopGuest) -> None:
    tools = view.spice_tools
    assert tools is not None
    wait_until(tools.resize_action.isEnabled, what="resize enabled with the agent")
    session = view.session
    assert isinstance(session, AnySession)
    spice = session.spice
    assert spice is not None and spice.resize_guest(1280, 800)
    wait_until(lambda: spice.framebuffer is not None and (spice.framebuffer.width, spice.framebuffer.height)
               == (1280, 800), timeout=30, what="a 1280x800 guest screen")
    assert "current 1280 x 800" in guest_output(running_desktop_guest, "DISPLAY=:0 xrandr")


def test_the_cursor_channel_and_a_guest_without_usb_redirection(view: ConsoleView,
                                                               running_desktop_guest: DesktopGuest) -> None:
    # This guest's X server starts with its pointer hidden (no client has set one): SPICE's cursor
    # channel says so and the console shows no local pointer either.
    wait_until(lambda: view.display.cursor().shape() == Qt.CursorShape.BlankCursor, timeout=20,
               what="the guest's hidden pointer")
    def local_pointer() -> tuple[QImage, tuple[int, int]] | None:
        cursor = view.display.cursor()
        if cursor.shape() != Qt.CursorShape.BitmapCursor:
            return None
        hot = cursor.hotSpot()
        return cursor.pixmap().toImage().convertToFormat(QImage.Format.Format_ARGB32), (hot.x(), hot.y())

    shapes: list[tuple[bytes, tuple[int, int]]] = []
    for name in ("watch", "hand2"):  # X cursor-font shapes, drawn by the guest's QXL driver
        view.display.setCursor(Qt.CursorShape.ArrowCursor)
        guest_output(running_desktop_guest, f"DISPLAY=:0 xsetroot -cursor_name {name}")

        def arrived() -> bool:  # a new shape: the guest may send the one before again meanwhile
            pointer = local_pointer()
            return pointer is not None and all(bytes(pointer[0].constBits()) != seen for seen, _hot in shapes)
        wait_until(arrived, timeout=20, what=f"the guest's '{name}' pointer")
        pointer = local_pointer()
        assert pointer is not None
        image, hot = pointer
        alphas = [image.pixelColor(x, y).alpha() for y in range(image.height()) for x in range(image.width())]
        opaque = sum(a == 255 for a in alphas)
        assert 30 < opaque < len(alphas) // 2, f"{name}: {opaque} opaque pixels of {len(alphas)}"
        assert 0 < hot[0] < image.width() and 0 < hot[1] < image.height()
        shapes.append((bytes(image.constBits()), hot))
    assert shapes[0][0] != shapes[1][0] and shapes[0][1] != shapes[1][1]
    tools = view.spice_tools
    assert tools is not None
    tools.rebuild_usb_menu()  # this guest has no <redirdev>: the menu says why nothing can be redirected
    assert [a.text() for a in tools.usb_menu.actions()] == [NO_CHANNEL]
