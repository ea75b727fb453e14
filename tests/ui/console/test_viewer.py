"""Viewer mode in-process: kiosk (full screen, no way out but the exit combo, quit on disconnect), -f."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from tests.console.fake_rfb import FakeRfbServer
from tests.helpers import wait_until
from vmgui.cli import parse
from vmgui.console.direct_console import open_source
from vmgui.console.state import ConsoleState
from vmgui.ui.settings import Settings
from vmgui.ui.viewer import Viewer


@pytest.fixture
def server() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(160, 120, name="kiosk") as srv:
        srv.fill((90, 90, 200))
        yield srv


def start_viewer(qtbot: QtBot, tmp_path: Path, argv: list[str]) -> tuple[Viewer, list[int]]:
    exits: list[int] = []
    options = parse(argv)
    assert options.target is not None
    settings = Settings(QSettings(str(tmp_path / "s.conf"), QSettings.Format.IniFormat))
    viewer = Viewer(options, open_source(options.target), settings, exits.append)
    qtbot.addWidget(viewer.window)
    viewer.start()
    wait_until(lambda: viewer.session.frames > 0, what="first frame")
    return viewer, exits


def test_kiosk_is_full_screen_and_only_the_exit_combo_leaves(aloop: asyncio.AbstractEventLoop, qtbot: QtBot,
                                                            tmp_path: Path, server: FakeRfbServer) -> None:
    viewer, exits = start_viewer(qtbot, tmp_path, [f"vnc://127.0.0.1:{server.port}", "--kiosk"])
    window, view, display = viewer.window, viewer.view, viewer.view.display
    assert window.isFullScreen() and not view.toolbar.isVisible() and not window.tabs.tabBar().isVisible()
    assert display.grabbed
    window.close()
    assert window.isVisible() and exits == []  # closing is refused
    view.set_fullscreen(False)
    assert window.isFullScreen()
    QTest.keyPress(display, Qt.Key.Key_Control)
    QTest.keyPress(display, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier)
    assert display.grabbed  # the release combination does not apply in kiosk mode
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    QTest.keyPress(display, Qt.Key.Key_Shift, mods)
    QTest.keyPress(display, Qt.Key.Key_Q, mods | Qt.KeyboardModifier.ShiftModifier)
    assert exits == [0] and not window.isVisible()


def test_kiosk_quits_when_the_console_disconnects(aloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
                                                  server: FakeRfbServer) -> None:
    viewer, exits = start_viewer(qtbot, tmp_path, [f"vnc://127.0.0.1:{server.port}", "--kiosk",
                                                   "--kiosk-quit", "on-disconnect"])
    server.stop()
    wait_until(lambda: exits == [0], what="quit after the disconnect")
    assert viewer.console.status.state is ConsoleState.DISCONNECTED
    viewer.stop()


def test_full_screen_option_and_vv_title(aloop: asyncio.AbstractEventLoop, qtbot: QtBot, tmp_path: Path,
                                         server: FakeRfbServer) -> None:
    vv = tmp_path / "a.vv"
    vv.write_text(f"[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport={server.port}\ntitle=Front desk\n"
                  "release-cursor=shift+f12\n")
    viewer, exits = start_viewer(qtbot, tmp_path, [str(vv), "-f"])
    assert viewer.window.isFullScreen() and viewer.view.toolbar.parent() is viewer.view
    assert viewer.view.title == "Front desk" and "Front desk" in viewer.window.windowTitle()
    assert viewer.view.display.release_label == "Shift+F12"  # the file's release-cursor hotkey
    viewer.view.set_fullscreen(False)
    assert not viewer.window.isFullScreen()  # outside kiosk mode full screen can be left
    viewer.window.close()
    assert exits == [0]


def test_vv_hotkeys_work_even_while_the_keyboard_is_grabbed(aloop: asyncio.AbstractEventLoop, qtbot: QtBot,
                                                           tmp_path: Path, server: FakeRfbServer) -> None:
    vv = tmp_path / "hot.vv"
    vv.write_text(f"[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport={server.port}\n"
                  "toggle-fullscreen=shift+f11\nsecure-attention=ctrl+alt+end\n")
    viewer, _exits = start_viewer(qtbot, tmp_path, [str(vv)])
    display = viewer.view.display
    display.set_grabbed(True)
    QTest.keyPress(display, Qt.Key.Key_Shift)
    QTest.keyPress(display, Qt.Key.Key_F11, Qt.KeyboardModifier.ShiftModifier)
    assert viewer.window.isFullScreen()
    QTest.keyRelease(display, Qt.Key.Key_F11, Qt.KeyboardModifier.ShiftModifier)
    QTest.keyRelease(display, Qt.Key.Key_Shift)
    server.clear_events()
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    QTest.keyPress(display, Qt.Key.Key_Control)
    QTest.keyPress(display, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier)
    QTest.keyPress(display, Qt.Key.Key_End, mods)

    def keys() -> list[tuple[bool, int]]:
        return [(e[1], e[3]) for e in server.events if e[0] == "qemu_key"]

    # Ctrl and Alt went down, then up when the hotkey fired; then Ctrl+Alt+Del as a whole. End never did.
    wait_until(lambda: keys()[-6:] == [(True, 0x1D), (True, 0x38), (True, 0xD3), (False, 0xD3), (False, 0x38),
                                       (False, 0x1D)], what="Ctrl+Alt+Del sent")
    assert (True, 0xCF) not in keys()
    viewer.stop()
