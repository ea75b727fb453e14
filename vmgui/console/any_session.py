"""A console session that speaks VNC or SPICE, whichever the endpoint it is opened on needs.

The widget and GuestConsole hold one session for a console's whole life, while a guest's display
can be VNC today and SPICE after an edit; this forwards to a VncSession or a SpiceSession.
"""

from __future__ import annotations

from vmgui.console.framebuffer import Framebuffer
from vmgui.console.graphics import Endpoint
from vmgui.console.spice_session import SpiceSession
from vmgui.console.state import ConsoleState, ConsoleStatus, CursorImage
from vmgui.console.vnc_session import VncSession
from vmgui.core.observable import Callbacks

Inner = VncSession | SpiceSession


class AnySession:
    def __init__(self) -> None:
        self.status_changed: Callbacks[[ConsoleStatus]] = Callbacks()
        self.frame_updated: Callbacks[[int, int, int, int]] = Callbacks()
        self.resized: Callbacks[[Framebuffer | None]] = Callbacks()
        self.cursor_changed: Callbacks[[CursorImage | None]] = Callbacks()
        self._inner: Inner = self._wire(VncSession())

    def _wire(self, inner: Inner) -> Inner:
        inner.status_changed.connect(self.status_changed.emit)
        inner.frame_updated.connect(self.frame_updated.emit)
        inner.resized.connect(self.resized.emit)
        inner.cursor_changed.connect(self.cursor_changed.emit)
        return inner

    def _unwire(self, inner: Inner) -> None:
        inner.status_changed.disconnect(self.status_changed.emit)
        inner.frame_updated.disconnect(self.frame_updated.emit)
        inner.resized.disconnect(self.resized.emit)
        inner.cursor_changed.disconnect(self.cursor_changed.emit)

    @property
    def protocol(self) -> str:
        return "spice" if isinstance(self._inner, SpiceSession) else "vnc"

    @property
    def inner(self) -> Inner:
        return self._inner

    @property
    def spice(self) -> SpiceSession | None:
        """The SPICE session while the display is SPICE (for its agent features), else None."""
        return self._inner if isinstance(self._inner, SpiceSession) else None

    @property
    def status(self) -> ConsoleStatus:
        return self._inner.status

    @property
    def framebuffer(self) -> Framebuffer | None:
        return self._inner.framebuffer

    @property
    def frames(self) -> int:
        return self._inner.frames

    @property
    def endpoint(self) -> Endpoint | None:
        return self._inner.endpoint

    def open(self, endpoint: Endpoint) -> None:
        if endpoint.protocol != self.protocol:
            old = self._inner
            old.close()
            self._unwire(old)
            self._inner = self._wire(SpiceSession() if endpoint.protocol == "spice" else VncSession())
        self._inner.open(endpoint)

    def close(self) -> None:
        self._inner.close()

    def set_password(self, password: str) -> None:
        self._inner.set_password(password)

    def send_key(self, down: bool, keysym: int, qnum: int) -> None:
        self._inner.send_key(down, keysym, qnum)

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        self._inner.send_pointer(buttons, x, y)

    @property
    def connected(self) -> bool:
        return self._inner.status.state is ConsoleState.CONNECTED
