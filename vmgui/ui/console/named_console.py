"""`vmgui --console GUEST [--screenshot FILE]`: find the guest and show its console; save a first frame."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

from vmgui.console.guest_console import GuestConsole
from vmgui.console.state import ConsoleState
from vmgui.core.connection import Connection, ConnectionState
from vmgui.core.connection_manager import ConnectionManager
from vmgui.ui.console.console_view import ConsoleView

FIRST_FRAME_TIMEOUT = 45.0
QUIET_AFTER_FRAME = 0.3  # the first full update arrives as many rectangles; wait for a pause
SETTLE_LIMIT = 2.0  # but not for ever: a blinking cursor never pauses for long


def find_guest(manager: ConnectionManager, name: str) -> tuple[Connection, str] | None:
    for conn in manager.connections:
        for guest in conn.guests.values():
            if name in (guest.name, guest.uuid):
                return conn, guest.uuid
    return None


async def _until(condition: Callable[[], bool], deadline: float) -> bool:
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _loaded(conn: Connection) -> bool:
    return conn.list_loaded or (conn.state is ConnectionState.DISCONNECTED and bool(conn.error))


async def open_named_console(manager: ConnectionManager, open_console: Callable[[Connection, str], ConsoleView],
                             name: str, screenshot: Path | None, timeout: float = FIRST_FRAME_TIMEOUT) -> int:
    """Open the console; with `screenshot`, save the guest's first frame there. Returns an exit code."""
    deadline = time.monotonic() + timeout
    await _until(lambda: all(_loaded(c) for c in manager.connections), deadline)
    found = find_guest(manager, name)
    if found is None:
        failed = [f"{c.uri}: {c.status_text}" for c in manager.connections if c.state is not ConnectionState.CONNECTED]
        print(f"vmgui: no guest named '{name}' on {', '.join(c.uri for c in manager.connections) or 'any connection'}"
              + (f" ({'; '.join(failed)})" if failed else ""), file=sys.stderr)
        return 1
    view = open_console(*found)
    if screenshot is None:
        return 0
    return await save_first_frame(view, screenshot, deadline, name)


async def save_first_frame(view: ConsoleView, screenshot: Path, deadline: float, name: str) -> int:
    """Wait for the console's first full frame and save it as PNG; on failure say why. Returns an exit code."""
    console = view.controller
    session = view.session
    timeout = max(0.0, deadline - time.monotonic())

    def settled() -> bool:
        status = console.status
        if status.state is ConsoleState.CONNECTED:
            return session.frames > 0
        retrying = isinstance(console, GuestConsole) and console.retrying
        return status.state in (ConsoleState.NOT_RUNNING, ConsoleState.AUTH_NEEDED) or (
            status.state is ConsoleState.DISCONNECTED and not retrying)

    if not await _until(settled, deadline):
        print(f"vmgui: no picture from {name}'s console within {timeout:.0f} s ({console.status.text()})",
              file=sys.stderr)
        return 1
    if console.status.state is not ConsoleState.CONNECTED:
        print(f"vmgui: cannot show {name}'s console: {console.status.text()}", file=sys.stderr)
        return 1
    frames, settle_until = -1, min(deadline, time.monotonic() + SETTLE_LIMIT)
    while frames != session.frames and time.monotonic() < settle_until:
        frames = session.frames
        await asyncio.sleep(QUIET_AFTER_FRAME)
    if not view.save_screenshot(str(screenshot)):
        print(f"vmgui: could not write the screenshot to {screenshot}", file=sys.stderr)
        return 1
    print(f"vmgui: saved {screenshot}")
    return 0
