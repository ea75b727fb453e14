"""The states a console session goes through, as the user sees them (shared by VNC and SPICE)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ConsoleState(Enum):
    CONNECTING = "Connecting"
    CONNECTED = "Connected"
    AUTH_NEEDED = "Password needed"
    NOT_RUNNING = "Guest not running"
    DISCONNECTED = "Disconnected"


@dataclass(frozen=True)
class ConsoleStatus:
    state: ConsoleState
    message: str = ""  # why, in words for the user ('' when the state says it all)
    permanent: bool = False  # trying again will not help (a certificate, an unsupported server)

    def text(self) -> str:
        return f"{self.state.value}: {self.message}" if self.message else self.state.value


CLOSED = ConsoleStatus(ConsoleState.DISCONNECTED, "closed")  # closed on purpose, by vmgui or the user


@dataclass(frozen=True)
class CursorImage:
    """A pointer shape from the server: width*height pixels of R,G,B,A bytes (straight alpha), row after row.

    0x0 is no pointer at all; a session's cursor_changed(None) means the local default pointer.
    """

    width: int
    height: int
    hot_x: int
    hot_y: int
    rgba: bytes
