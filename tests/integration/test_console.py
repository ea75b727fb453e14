"""The console on a real QEMU guest: its frame equals virDomainScreenshot, and typing reaches its shell."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from tests.guest.tiny_guest import decode_screenshot
from tests.helpers import run, wait_until
from tests.integration.conftest import TinyGuest, virsh
from tests.ui.test_screenshot import vmgui
from vmgui.console.any_session import AnySession
from vmgui.console.state import ConsoleState
from vmgui.core.connection import Connection
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow


@pytest.fixture
def system_conn(aloop: asyncio.AbstractEventLoop, system_uri: str) -> Iterator[Connection]:
    conn = Connection(system_uri, stats_interval=0)
    run(conn.connect())
    wait_until(lambda: conn.list_loaded, timeout=30, what="guest list")
    yield conn
    run(conn.close())


def uuid_of(conn: Connection, name: str) -> str:
    return next(g.uuid for g in conn.guests.values() if g.name == name)


def settle(view: ConsoleView, quiet: float = 0.4, limit: float = 5.0) -> None:
    """Wait until no update arrived for `quiet` seconds (a blinking cursor may keep it from ever settling)."""
    deadline = time.monotonic() + limit
    frames = -1
    while frames != view.session.frames and time.monotonic() < deadline:
        frames = view.session.frames
        QTest.qWait(int(quiet * 1000))


SHIFTED = set('~!@#$%^&*()_+{}|:"<>?') | set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def type_on_keyboard(widget: QWidget, text: str) -> None:
    """Key events as a US keyboard makes them: Shift pressed around the characters that need it."""
    for char in text:
        shift = char in SHIFTED
        if shift:
            QTest.keyPress(widget, Qt.Key.Key_Shift)
        # PySide6's stubs lack QTest.keyClick's `char` overload, which types the character's text too.
        QTest.keyClick(widget, char,  # type: ignore[call-overload]
                       Qt.KeyboardModifier.ShiftModifier if shift else Qt.KeyboardModifier.NoModifier)
        if shift:
            QTest.keyRelease(widget, Qt.Key.Key_Shift, Qt.KeyboardModifier.ShiftModifier)


def differing_pixels(console: QImage, rgb: bytes, width: int) -> int:
    diff = 0
    for y in range(console.height()):
        row = y * width * 3
        for x in range(0, console.width(), 2):  # every other column is plenty to catch a wrong frame
            c = console.pixel(x, y)
            i = row + x * 3
            if ((c >> 16) & 255, (c >> 8) & 255, c & 255) != (rgb[i], rgb[i + 1], rgb[i + 2]):
                diff += 1
    return diff


@pytest.mark.parametrize("protocol", ["vnc", "spice"])
def test_console_frame_matches_the_hypervisor_screenshot_and_typing_reaches_the_shell(
        protocol: str, request: pytest.FixtureRequest, system_conn: Connection, qtbot: QtBot,
        tmp_path: Path) -> None:
    running_guest: TinyGuest = request.getfixturevalue("running_guest" if protocol == "vnc" else "running_spice_guest")
    window = ConsoleWindow()
    qtbot.addWidget(window)
    wait_until(lambda: any(g.name == running_guest.name for g in system_conn.guests.values()), what="guest")
    view = window.open_guest(system_conn, uuid_of(system_conn, running_guest.name))
    wait_until(lambda: view.session.frames > 0, timeout=30, what="the first frame")
    assert view.controller.status.state is ConsoleState.CONNECTED
    assert isinstance(view.session, AnySession)  # open_guest gives every console a protocol-switching session
    endpoint = view.session.endpoint
    assert endpoint is not None and endpoint.protocol == protocol
    # VNC comes as a socket from virDomainOpenGraphicsFD; SPICE (a socket per channel) by its address
    assert endpoint.kind == ("fd" if protocol == "vnc" else "tcp")
    settle(view)

    shot = tmp_path / "screen"
    virsh("screenshot", running_guest.name, str(shot))
    width, height, rgb = decode_screenshot(shot.read_bytes())
    image = view.display.image()
    assert image is not None and (image.width(), image.height()) == (width, height) == (1024, 768)
    # The same screen, but for the blinking cursor (a few dozen pixels) between the two captures.
    assert differing_pixels(image.copy(), rgb, width) < 200

    marker = f"VMGUI-TYPED-{time.monotonic_ns() % 100000}"
    display = view.display
    QTest.mouseClick(display, Qt.MouseButton.LeftButton)  # grabs the keyboard
    assert display.grabbed
    type_on_keyboard(display, f"echo {marker} > /dev/ttyS0")
    QTest.keyClick(display, Qt.Key.Key_Return)
    # The loop must run meanwhile: GVnc sends the keys from it.
    wait_until(lambda: marker in running_guest.serial(), timeout=30, what="the typed command's output")
    # Disconnect and connect again: a new session, new frames.
    view.session.close()
    assert view.session.status.state is ConsoleState.DISCONNECTED
    view.reconnect_action.trigger()
    wait_until(lambda: view.session.status.state is ConsoleState.CONNECTED and view.session.frames > 0,
               timeout=30, what="reconnected")
    window.close()
    assert view.session.status.state is ConsoleState.DISCONNECTED


def test_console_screenshot_command_on_a_real_guest(running_guest: TinyGuest, system_uri: str,
                                                   tmp_path: Path) -> None:
    out = tmp_path / "guest.png"
    result = vmgui(tmp_path, "--connect", system_uri, "--console", running_guest.name, "--stats-interval", "0",
                   "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1024, 768)
    # The tiny guest's tty1 starts with a bar of the 16 console colours.
    assert len({image.pixel(x, 4) for x in range(0, 384, 8)}) >= 8


def guest_screen(name: str, tmp_path: Path) -> tuple[int, int, bytes]:
    shot = tmp_path / f"{name}.screen"
    virsh("screenshot", name, str(shot))
    return decode_screenshot(shot.read_bytes())


@pytest.mark.parametrize("how", ["spice-url", "vnc-url", "spice-vv"])
def test_viewer_mode_opens_a_guest_by_url_and_by_vv_file(how: str, running_spice_guest: TinyGuest,
                                                         tmp_path: Path) -> None:
    """The guest has a SPICE and a VNC display: both addresses, and a .vv file, show the same screen."""
    kind = how.split("-")[0]
    url = virsh("domdisplay", "--type", kind, running_spice_guest.name).stdout.strip()
    assert url.startswith(f"{kind}://127.0.0.1:")
    target = url
    if how == "spice-vv":
        vv = tmp_path / "guest.vv"
        vv.write_text(f"[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport={url.rsplit(':', 1)[1]}\n"
                      "title=tiny\ndelete-this-file=1\n")
        target = str(vv)
    out = tmp_path / f"{how}.png"
    result = vmgui(tmp_path, target, "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    width, height, rgb = guest_screen(running_spice_guest.name, tmp_path)
    image = QImage(str(out)).convertToFormat(QImage.Format.Format_RGB32)
    assert (image.width(), image.height()) == (width, height) == (1024, 768)
    assert differing_pixels(image, rgb, width) < 200
    if how == "spice-vv":
        assert not (tmp_path / "guest.vv").exists()  # delete-this-file


def test_spice_tools_say_what_the_guest_offers(running_spice_guest: TinyGuest, system_conn: Connection,
                                               qtbot: QtBot, tmp_path: Path) -> None:
    window = ConsoleWindow()
    qtbot.addWidget(window)
    wait_until(lambda: any(g.name == running_spice_guest.name for g in system_conn.guests.values()), what="guest")
    view = window.open_guest(system_conn, uuid_of(system_conn, running_spice_guest.name))
    wait_until(lambda: view.session.frames > 0, timeout=30, what="the first frame")
    tools = view.spice_tools
    assert tools is not None and tools.clipboard_action.isVisible() and tools.usb_button.isVisible()
    assert isinstance(view.session, AnySession)
    spice = view.session.spice
    assert spice is not None
    wait_until(lambda: spice.usb_channels >= 1, what="the USB redirection channel")
    # The guest's sound card plays through SPICE's playback channel into spice-glib's GStreamer backend.
    wait_until(lambda: spice.playback_channels >= 1, what="the playback channel")
    assert spice.audio is not None and type(spice.audio).__name__ == "SpiceGstaudio"
    # No spice-vdagent in the tiny guest: resizing is refused with the reason, clipboard stays off.
    assert not spice.agent_connected and not tools.resize_action.isEnabled()
    assert "no SPICE agent" in tools.resize_action.toolTip()
    assert tools.clipboard_action.text() == "Clipboard: off" and not spice.clipboard_sharing
    tools.clipboard_action.trigger()
    assert tools.clipboard_action.text() == "Clipboard: on" and spice.clipboard_sharing
    assert "no SPICE agent" in tools.clipboard_action.toolTip()
    tools.rebuild_usb_menu()
    texts = [a.text() for a in tools.usb_menu.actions() if not a.isSeparator()]
    assert texts[-2:] == ["Share a CD/DVD image…", "Redirect newly plugged devices"]
    assert texts[0] == "No USB devices on this computer." or tools.usb_menu.actions()[0].isCheckable()

    # Redirect a disc image as an emulated USB CD drive: the guest's redirection port goes from an
    # empty 1.5 Mb/s port to a connected 12 Mb/s device.
    def usb_ports() -> str:
        return virsh("qemu-monitor-command", "--hmp", running_spice_guest.name, "info usb").stdout

    assert "Speed 1.5 Mb/s" in usb_ports()
    image = tmp_path / "disc.iso"
    image.write_bytes(bytes(2048 * 256))
    assert tools.share_cd_image(str(image))
    def cd_listed() -> bool:
        tools.rebuild_usb_menu()
        return any("disc.iso" in a.text() for a in tools.usb_menu.actions())

    wait_until(cd_listed, what="the shared CD in the USB menu")
    item = next(a for a in tools.usb_menu.actions() if "disc.iso" in a.text())
    assert item.isCheckable() and not item.isChecked()
    item.setChecked(True)
    wait_until(lambda: "Speed 12 Mb/s" in usb_ports(), timeout=15, what="the CD redirected into the guest")
    window.close()
