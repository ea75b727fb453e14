"""SPICE with a guest agent (Debian + Xorg + spice-vdagent): clipboard, the guest's resolution, pointer shapes."""

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


# Pointer shapes the test sets in the guest as X bitmaps (`xsetroot -cursor SOURCE MASK -fg FG -bg BG`):
# '#' is the foreground colour, '.' the background (in the mask only), ' ' transparent. Widths that are not a
# multiple of 8 and an asymmetric shape catch row padding, flips and a pixel-order mix-up; FG and BG differ
# in every channel, which catches red and blue swapped.
FG, BG = 0xC02040, 0x20A0F0
FLAG = ("##########. ",
        "#..........#",
        "#.   ",
        "######.",
        "#......",
        "#.",
        "#.",
        "#.",
        "#.",
        ".")
CROSS = ("      .#.      ",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ",
         ".......#.......",
         "###############",
         "...............",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ",
         "      .#.      ")


def rows_of(shape: tuple[str, ...]) -> list[str]:
    width = max(len(row) for row in shape)
    return [row.ljust(width) for row in shape]


def xbm(name: str, rows: list[str], marks: str, hot: tuple[int, int] | None = None) -> str:
    """An X bitmap of `rows`, a bit set where the character is one of `marks`. libX11's reader skips the
    rest of the line that opens the array, so the bytes start on the next one."""
    data = [sum(1 << i for i, ch in enumerate(row[start:start + 8]) if ch in marks)
            for row in rows for start in range(0, len(row), 8)]
    lines = [f"#define {name}_width {len(rows[0])}", f"#define {name}_height {len(rows)}"]
    if hot is not None:
        lines += [f"#define {name}_x_hot {hot[0]}", f"#define {name}_y_hot {hot[1]}"]
    lines += [f"static unsigned char {name}_bits[] = {{", ", ".join(f"0x{b:02x}" for b in data) + "};"]
    return "\n".join(lines) + "\n"


def set_root_pointer(shape: tuple[str, ...], hot: tuple[int, int]) -> str:
    """The guest command that makes `shape` X's root window pointer."""
    rows = rows_of(shape)
    return (f"cat > /tmp/pointer.xbm <<'XBM'\n{xbm('pointer', rows, '#', hot)}XBM\n"
            f"cat > /tmp/mask.xbm <<'XBM'\n{xbm('mask', rows, '#.')}XBM\n"
            f"DISPLAY=:0 xsetroot -cursor /tmp/pointer.xbm /tmp/mask.xbm -fg '#{FG:06x}' -bg '#{BG:06x}'")


def pointer_mismatches(image: QImage, shape: tuple[str, ...]) -> list[str]:
    """Where the local pointer (ARGB32, straight alpha) is not `shape`; transparent outside it."""
    rows = rows_of(shape)
    wrong: list[str] = []
    for y in range(image.height()):
        for x in range(image.width()):
            ch = rows[y][x] if y < len(rows) and x < len(rows[y]) else " "
            pixel = image.pixel(x, y)
            expected = {"#": 0xFF000000 | FG, ".": 0xFF000000 | BG}.get(ch)
            if (pixel >> 24 != 0) if expected is None else pixel != expected:
                wrong.append(f"({x},{y}) {pixel:08x} for {ch!r}")
    return wrong


def guest_pointer(view: ConsoleView, guest: DesktopGuest, shape: tuple[str, ...], hot: tuple[int, int]) -> QImage:
    """Set `shape` as the guest's pointer; the console's local pointer once it has that hotspot."""
    display = view.display
    display.setCursor(Qt.CursorShape.ArrowCursor)
    guest_output(guest, set_root_pointer(shape, hot))

    def arrived() -> bool:  # the hotspot tells it from the shape before, which the guest may send again
        cursor = display.cursor()
        spot = cursor.hotSpot()
        return cursor.shape() == Qt.CursorShape.BitmapCursor and (spot.x(), spot.y()) == hot
    wait_until(arrived, timeout=20, what=f"the guest's pointer with its hotspot at {hot}")
    return display.cursor().pixmap().toImage().convertToFormat(QImage.Format.Format_ARGB32)


def test_the_cursor_channel_and_a_guest_without_usb_redirection(view: ConsoleView,
                                                               running_desktop_guest: DesktopGuest) -> None:
    # This guest's X server starts with its pointer hidden (no client has set one): SPICE's cursor
    # channel says so and the console shows no local pointer either.
    wait_until(lambda: view.display.cursor().shape() == Qt.CursorShape.BlankCursor, timeout=20,
               what="the guest's hidden pointer")
    # Then the guest sets pointer shapes of its own: X's QXL driver sends each through SPICE's cursor
    # channel (cursor-set) and the console's local pointer becomes that bitmap, pixel for pixel.
    for shape, hot in ((FLAG, (2, 3)), (CROSS, (7, 7))):
        image = guest_pointer(view, running_desktop_guest, shape, hot)
        rows = rows_of(shape)
        # QXL's driver sends its hardware cursor's whole 64x64 square: the shape in its top left corner
        assert image.width() >= len(rows[0]) and image.height() >= len(rows), image.size()
        wrong = pointer_mismatches(image, shape)
        assert not wrong, f"{len(wrong)} pixels differ from what the guest set: {wrong[:8]}"
    tools = view.spice_tools
    assert tools is not None
    tools.rebuild_usb_menu()  # this guest has no <redirdev>: the menu says why nothing can be redirected
    assert [a.text() for a in tools.usb_menu.actions()] == [NO_CHANNEL]
