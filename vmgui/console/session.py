"""What the console widget needs from a protocol session (VNC now, SPICE next): frames, state, input."""

from __future__ import annotations

from typing import Protocol

from vmgui.console.framebuffer import Framebuffer
from vmgui.console.graphics import Endpoint
from vmgui.console.state import ConsoleStatus, CursorImage
from vmgui.core.observable import Callbacks

# Pointer button bits, as RFB numbers them (SPICE sessions translate).
BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT = 1, 2, 4
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 8, 16, 32, 64


class ConsoleSession(Protocol):
    @property
    def status(self) -> ConsoleStatus: ...
    @property
    def framebuffer(self) -> Framebuffer | None: ...
    @property
    def frames(self) -> int: ...

    status_changed: Callbacks[[ConsoleStatus]]
    frame_updated: Callbacks[[int, int, int, int]]
    resized: Callbacks[[Framebuffer | None]]  # None: no screen now (its memory may be gone)
    cursor_changed: Callbacks[[CursorImage | None]]

    def open(self, endpoint: Endpoint) -> None: ...
    def close(self) -> None: ...
    def set_password(self, password: str) -> None: ...
    def send_key(self, down: bool, keysym: int, qnum: int) -> None: ...
    def send_pointer(self, buttons: int, x: int, y: int) -> None: ...
