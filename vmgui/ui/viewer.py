"""Viewer mode (`vmgui URL|FILE.vv|-`): only a console window, as remote-viewer; kiosk and screenshots too."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from functools import partial

from vmgui.cli import Options
from vmgui.console.any_session import AnySession
from vmgui.console.direct_console import DirectConsole, ViewerSource, open_source
from vmgui.console.state import ConsoleState, ConsoleStatus
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.console.named_console import FIRST_FRAME_TIMEOUT, save_first_frame
from vmgui.ui.settings import RELEASE_COMBOS, Settings
from vmgui.ui.tasks import TaskGroup

log = logging.getLogger(__name__)
KIOSK_EXIT_COMBO = "ctrl+alt+shift+q"


def load_source(options: Options) -> ViewerSource | None:
    """The console the argument names, or None after printing why it cannot be opened."""
    assert options.target is not None
    try:
        stdin_text = sys.stdin.read() if options.target == "-" else None
        return open_source(options.target, stdin_text)
    except (ValueError, UnicodeDecodeError) as err:
        print(f"vmgui: {options.target}: {err}", file=sys.stderr)
        return None


def _warn_unsupported(source: ViewerSource) -> list[str]:
    vv = source.vv
    notes: list[str] = []
    if vv is None:
        return notes
    if vv.enable_smartcard:
        notes.append("smartcard redirection is not supported")
    for note in notes:
        print(f"vmgui: {note}; continuing without it", file=sys.stderr)
    return notes


def _hotkeys(source: ViewerSource, view: ConsoleView) -> list[str]:
    """The .vv file's hotkeys, bound on the display; returns notes about those it cannot use."""
    vv = source.vv
    if vv is None:
        return []
    display = view.display
    wanted = (
        (vv.toggle_fullscreen, view.toggle_fullscreen),
        (vv.secure_attention, lambda: display.send_combo("ctrl+alt+del")),
        (vv.zoom_in, display.zoom_in),
        (vv.zoom_out, display.zoom_out),
        (vv.release_cursor if vv.release_cursor.replace("-", "+") not in RELEASE_COMBOS else "",
         partial(display.set_grabbed, False)),
    )
    notes = []
    for combo, action in wanted:
        if not combo:
            continue
        try:
            display.add_hotkey(combo.replace("-", "+"), action)
        except ValueError as err:
            notes.append(f"hotkey not used: {err}")
    for note in notes:
        print(f"vmgui: {note}", file=sys.stderr)
    return notes


def _release_combo(source: ViewerSource, settings: Settings) -> str:
    """The .vv file's release-cursor hotkey when vmgui offers it, else the user's choice."""
    wanted = (source.vv.release_cursor if source.vv else "").replace("-", "+")
    return wanted if wanted in RELEASE_COMBOS else settings.release_combo()


class Viewer:
    """The console window of viewer mode and what quits the application."""

    def __init__(self, options: Options, source: ViewerSource, settings: Settings,
                 exit_app: Callable[[int], None]) -> None:
        self.exit_app = exit_app
        self.options = options
        self.tasks = TaskGroup()
        self.session = AnySession()
        self.console = DirectConsole(source, self.session)
        self.window = ConsoleWindow(settings=settings)
        self.window.setWindowTitle(f"{source.title} — vmgui")
        self.view = ConsoleView(self.console, self.session)
        self.window.add_view(self.view)
        self.view.set_release_combo(_release_combo(source, settings))
        self.window.tabs.tabBar().hide()  # one console: no tabs
        self.window.emptied.connect(lambda: self.exit_app(0))
        self._connected_once = False
        self.console.status_changed.connect(self._status_changed)
        for note in _warn_unsupported(source) + _hotkeys(source, self.view):
            self.view.hint.setText(f"Note: {note}.")

    def start(self) -> None:
        self.window.show()
        if self.options.kiosk:
            self.window.kiosk = True
            self.view.set_kiosk(KIOSK_EXIT_COMBO)
            self.view.display.exit_combo_pressed.connect(self.quit)
        elif self.options.full_screen or (self.console.source.vv is not None and self.console.source.vv.fullscreen):
            self.view.set_fullscreen(True)
        self.console.open()
        if self.options.screenshot is not None:
            self.tasks.spawn(self._screenshot())

    async def _screenshot(self) -> None:
        assert self.options.screenshot is not None
        code = 1
        try:
            code = await save_first_frame(self.view, self.options.screenshot,
                                          time.monotonic() + FIRST_FRAME_TIMEOUT, self.console.name)
        finally:
            self.exit_app(code)

    def _status_changed(self, status: ConsoleStatus) -> None:
        if status.state is ConsoleState.CONNECTED:
            self._connected_once = True
        elif (status.state is ConsoleState.DISCONNECTED and self.options.kiosk
              and self.options.kiosk_quit == "on-disconnect" and self.options.screenshot is None):
            print(f"vmgui: {self.console.name}: {status.text()}", file=sys.stderr)
            asyncio.get_event_loop().call_soon(self.exit_app, 0 if self._connected_once else 1)

    def quit(self) -> None:
        """Close the window; its console closes, and the emptied window exits the application."""
        self.window.kiosk = False
        self.window.close()

    def stop(self) -> None:
        self.tasks.cancel_all()
        self.window.kiosk = False
        self.window.close()

