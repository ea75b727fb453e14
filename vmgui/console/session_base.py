"""What the VNC and SPICE sessions share: the status and its callbacks, the screen callbacks, the handshake timeout."""

from __future__ import annotations

from typing import Any

from gi.repository import GLib

from vmgui.console.framebuffer import Framebuffer
from vmgui.console.graphics import Endpoint
from vmgui.console.state import ConsoleState, ConsoleStatus, CursorImage
from vmgui.core.observable import Callbacks

HANDSHAKE_TIMEOUT_S = 15


class SessionBase:
    """Subclasses open and close a protocol connection, say `_fail(message)`, and tell their live handle."""

    def __init__(self, handshake_timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
        self.status = ConsoleStatus(ConsoleState.DISCONNECTED)
        self.framebuffer: Framebuffer | None = None
        self.name = ""  # the desktop name the server announces
        self.frames = 0  # screen updates reported since open
        self.status_changed: Callbacks[[ConsoleStatus]] = Callbacks()
        self.frame_updated: Callbacks[[int, int, int, int]] = Callbacks()  # x, y, width, height
        self.resized: Callbacks[[Framebuffer | None]] = Callbacks()  # None: no screen now
        self.cursor_changed: Callbacks[[CursorImage | None]] = Callbacks()
        self._handshake_timeout = handshake_timeout
        self._endpoint: Endpoint | None = None
        self._timeout_id = 0

    @property
    def endpoint(self) -> Endpoint | None:
        """Where the last open() went."""
        return self._endpoint

    def _live(self) -> Any:
        """The protocol connection now open (None when there is none)."""
        raise NotImplementedError

    @property
    def connected(self) -> bool:
        return self.status.state is ConsoleState.CONNECTED and self._live() is not None

    def _fail(self, message: str, *, permanent: bool = False) -> None:
        raise NotImplementedError

    def _start_handshake_timeout(self, handle: Any) -> None:
        """Fail if `handle` (the connection being opened) is not connected in time."""
        self._cancel_timeout()
        self._timeout_id = GLib.timeout_add(int(self._handshake_timeout * 1000), self._handshake_expired, handle)

    def _handshake_expired(self, handle: Any) -> bool:
        self._timeout_id = 0
        if handle is self._live() and self.status.state is ConsoleState.CONNECTING:
            self._fail(f"the console did not answer within {self._handshake_timeout:g} s")
        return False

    def _cancel_timeout(self) -> None:
        if self._timeout_id:
            GLib.source_remove(self._timeout_id)
            self._timeout_id = 0

    def _set_status(self, state: ConsoleState, message: str, permanent: bool = False) -> None:
        status = ConsoleStatus(state, message, permanent)
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)
