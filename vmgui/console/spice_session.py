"""One SPICE connection through spice-client-glib (no GTK widget): display, inputs, cursor, and its state.

Like GVnc, spice-glib runs on GLib's default main context, which Qt's event dispatcher iterates, so
this lives on the GUI thread. Facts found by experiment (docs/ARCHITECTURE.md): the channels'
`connect()` hides GObject's signal connect (so `GObject.Object.connect` is used), the primary surface
pointer comes from `display-primary-create` (GI reads `get_primary` wrongly), mouse buttons are plain
ints, and keys are PC AT set-1 scancodes with 0x100 marking the 0xE0 prefix.
"""

from __future__ import annotations

import ctypes
import logging
from collections import deque
from dataclasses import replace
from typing import Any

import gi

gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import GLib, GObject  # noqa: E402
from gi.repository import SpiceClientGLib as Spice  # noqa: E402

from vmgui.console.framebuffer import Framebuffer  # noqa: E402
from vmgui.console.gi_ctypes import set_bytes_property  # noqa: E402
from vmgui.console.graphics import Endpoint  # noqa: E402
from vmgui.console.session import BUTTON_LEFT, BUTTON_MIDDLE, BUTTON_RIGHT, WHEEL_DOWN, WHEEL_UP  # noqa: E402
from vmgui.console.session_base import HANDSHAKE_TIMEOUT_S, SessionBase  # noqa: E402
from vmgui.console.ssh_tunnel import open_stream  # noqa: E402
from vmgui.console.state import CLOSED, ConsoleState, CursorImage  # noqa: E402
from vmgui.core.observable import Callbacks  # noqa: E402

log = logging.getLogger(__name__)

_connect = GObject.Object.connect
_EV = Spice.ChannelEvent
MOUSE_MODE_CLIENT = 2  # SPICE_MOUSE_MODE_CLIENT: absolute positions (agent or tablet); 1 is relative
SPICE_FORMAT_32_XRGB = 32
BATCH_MS = 8  # display updates gathered into one report
KEY_INTERVAL_MS = 8  # QEMU's PS/2 queue holds 16 bytes: a burst of keys (typed text) must be paced
_BUTTONS = ((BUTTON_LEFT, 1), (BUTTON_MIDDLE, 2), (BUTTON_RIGHT, 3))  # RFB bit -> SPICE button number
_WHEEL = ((WHEEL_UP, 4), (WHEEL_DOWN, 5))
CLIPBOARD = 0  # VD_AGENT_CLIPBOARD_SELECTION_CLIPBOARD
AGENT_CAP_CLIPBOARD_BY_DEMAND = 5  # VD_AGENT_CAP_CLIPBOARD_BY_DEMAND
AGENT_CAP_CLIPBOARD_SELECTION = 6  # VD_AGENT_CAP_CLIPBOARD_SELECTION
UTF8_TEXT = 1  # VD_AGENT_CLIPBOARD_UTF8_TEXT
MAX_CLIPBOARD = 16 * 1024 * 1024


def spice_scancode(qnum: int) -> int:
    """XT 'qnum' (0x80 | code for E0-prefixed keys) -> SPICE's set-1 scancode (0x100 | code for those)."""
    return 0x100 | (qnum & 0x7F) if qnum & 0x80 else qnum


def _uint32s(value: Any, count: int) -> list[int]:
    """A gpointer signal argument holding guint32s: PyGObject 3.50 passes a list of ints for the clipboard
    types (measured with spice-glib 0.42); a plain address is read through C."""
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return list((ctypes.c_uint32 * count).from_address(int(value))) if value and count > 0 else []


def _bytes_of(value: Any, size: int) -> bytes:
    """A gpointer signal argument holding bytes: PyGObject 3.50 passes `bytes` for clipboard data
    (measured); an address is read through C."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value[:size])
    return ctypes.string_at(int(value), size) if value else b""


def set_ca(session: Any, pem: bytes) -> None:
    """Set the session's `ca` (PEM text in a GByteArray); `props.ca = ...` would crash spice-glib."""
    set_bytes_property(session, "ca", pem)


class SpiceSession(SessionBase):
    """The ConsoleSession for SPICE (see vmgui/console/session.py)."""

    def __init__(self, *, handshake_timeout: float = HANDSHAKE_TIMEOUT_S, audio: bool = True) -> None:
        super().__init__(handshake_timeout)
        self.audio_wanted = audio
        self.audio: Any = None  # spice-glib's GStreamer audio while connected with sound
        self.playback_channels = 0
        self.features_changed: Callbacks[[]] = Callbacks()  # agent (dis)connected, USB channel seen
        self.guest_clipboard: Callbacks[[str]] = Callbacks()  # text the guest copied (sharing on)
        self.usb_channels = 0
        self.clipboard_sharing = False  # off by default: an untrusted guest reads nothing
        self._host_clipboard = ""
        self._session: Any = None
        self._main: Any = None
        self._inputs: Any = None
        self._buttons = 0
        self._last_pos: tuple[int, int] | None = None
        self._keys: deque[tuple[bool, int]] = deque()
        self._key_timer = 0
        self._display: Any = None
        self._dirty: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 not yet reported
        self._flush_id = 0
        self._error = ""

    def _live(self) -> Any:
        return self._session

    # ---- lifecycle ------------------------------------------------------------------------------

    def open(self, endpoint: Endpoint) -> None:
        self.close()
        session = Spice.Session()
        self._session, self._endpoint, self._error, self.frames = session, endpoint, "", 0
        props = session.props
        if endpoint.kind == "unix":
            props.unix_path = endpoint.path
        elif endpoint.kind == "tcp":
            props.host = endpoint.host
            if endpoint.port:
                props.port = str(endpoint.port)
            if endpoint.tls_port:
                props.tls_port = str(endpoint.tls_port)
        if endpoint.password:
            props.password = endpoint.password
        if endpoint.ca:
            set_ca(session, endpoint.ca.encode())
        if endpoint.host_subject:
            props.cert_subject = endpoint.host_subject
        if endpoint.proxy:
            props.proxy = endpoint.proxy
        if endpoint.secure_channels:
            props.secure_channels = list(endpoint.secure_channels)
        audio = self.audio_wanted and endpoint.audio
        props.enable_audio = audio
        props.enable_usbredir = True  # channels only: nothing is redirected until the user picks a device
        self.playback_channels = 0
        self.audio = self._start_audio(session) if audio else None
        if endpoint.usb_autoshare or endpoint.usb_filter:
            manager = Spice.UsbDeviceManager.get(session)
            manager.props.auto_connect = endpoint.usb_autoshare
            if endpoint.usb_filter:
                manager.props.auto_connect_filter = endpoint.usb_filter
        _connect(session, "channel-new", self._on_channel_new)
        _connect(session, "disconnected", self._on_session_disconnected)
        self._set_status(ConsoleState.CONNECTING, f"to {endpoint.describe()}")
        ok = session.open_fd(endpoint.fd) if endpoint.kind == "fd" else session.connect()
        if not ok:
            self._fail(f"could not open {endpoint.describe()}", permanent=True)
            return
        self._start_handshake_timeout(session)

    @staticmethod
    def _start_audio(session: Any) -> Any:
        """Guest sound through spice-glib's GStreamer backend; None (said in the log) where it is missing."""
        try:
            audio = Spice.Audio.get(session, None)
        except Exception as err:  # GStreamer or its plugins missing
            log.info("no SPICE audio: %s", err)
            return None
        if audio is None:
            log.info("no SPICE audio: spice-glib has no audio backend here")
        return audio

    def close(self) -> None:
        session, self._session = self._session, None
        self._stop_timers()
        self._main = self._inputs = self._display = None
        self.usb_channels = self.playback_channels = 0
        self.audio = None
        self._keys.clear()
        if session is not None:
            session.disconnect()
        self._drop_framebuffer()
        if self.status.state is not ConsoleState.DISCONNECTED:
            self._set_status(CLOSED.state, CLOSED.message)

    def set_password(self, password: str) -> None:
        endpoint = self._endpoint
        if endpoint is not None and endpoint.kind != "fd":
            self.open(replace(endpoint, password=password))

    # ---- input ----------------------------------------------------------------------------------

    def send_key(self, down: bool, keysym: int, qnum: int) -> None:
        if not self.connected or self._inputs is None:
            return
        self._keys.append((down, spice_scancode(qnum)))
        if not self._key_timer:
            self._drain_keys()

    def _drain_keys(self) -> bool:
        inputs = self._inputs
        if not self._keys or inputs is None:
            self._key_timer = 0
            return False
        down, code = self._keys.popleft()
        (inputs.key_press if down else inputs.key_release)(code)
        if not self._key_timer:
            self._key_timer = GLib.timeout_add(KEY_INTERVAL_MS, self._drain_keys)
        return True

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        inputs, fb = self._inputs, self.framebuffer
        if not self.connected or inputs is None or fb is None:
            return
        x, y = max(0, min(x, fb.width - 1)), max(0, min(y, fb.height - 1))
        state = buttons & (BUTTON_LEFT | BUTTON_MIDDLE | BUTTON_RIGHT)
        held = self._buttons & (BUTTON_LEFT | BUTTON_MIDDLE | BUTTON_RIGHT)
        if self._main is not None and self._main.props.mouse_mode == MOUSE_MODE_CLIENT:
            inputs.position(x, y, 0, held)
        elif self._last_pos is not None and (x, y) != self._last_pos:
            inputs.motion(x - self._last_pos[0], y - self._last_pos[1], held)
        self._last_pos = (x, y)
        for bit, number in _BUTTONS:
            if (buttons ^ self._buttons) & bit:
                (inputs.button_press if buttons & bit else inputs.button_release)(number, state)
        for bit, number in _WHEEL:
            if buttons & bit and not self._buttons & bit:
                inputs.button_press(number, state)
                inputs.button_release(number, state)
        self._buttons = buttons

    # ---- agent features: clipboard, guest resolution, USB ----------------------------------------

    @property
    def agent_connected(self) -> bool:
        return self._main is not None and bool(self._main.props.agent_connected)

    def set_clipboard_sharing(self, on: bool) -> None:
        self.clipboard_sharing = on
        if on and self._host_clipboard:
            self.offer_clipboard(self._host_clipboard)

    def offer_clipboard(self, text: str) -> None:
        """The host's clipboard changed: tell the guest's agent there is text (sent when it asks).

        Before the agent has said it can share the clipboard, the text waits for its capabilities.
        """
        self._host_clipboard = text
        if self.clipboard_sharing and text and self._agent_shares_clipboard():
            self._main.clipboard_selection_grab(CLIPBOARD, [UTF8_TEXT])

    def _agent_shares_clipboard(self) -> bool:
        main = self._main
        return main is not None and self.agent_connected and bool(
            main.agent_test_capability(AGENT_CAP_CLIPBOARD_BY_DEMAND)
            and main.agent_test_capability(AGENT_CAP_CLIPBOARD_SELECTION))

    def _on_agent_update(self, _channel: Any, *_args: Any) -> None:
        self.features_changed.emit()
        if self.clipboard_sharing and self._host_clipboard:
            self.offer_clipboard(self._host_clipboard)

    def _on_guest_grab(self, channel: Any, selection: int, types: Any, ntypes: int) -> bool:
        wanted = self.clipboard_sharing and selection == CLIPBOARD and self._mine(channel)
        if wanted and UTF8_TEXT in _uint32s(types, ntypes):
            channel.clipboard_selection_request(selection, UTF8_TEXT)
        return True

    def _on_guest_clipboard(self, channel: Any, selection: int, kind: int, data: Any, size: int) -> None:
        if self.clipboard_sharing and selection == CLIPBOARD and kind == UTF8_TEXT and data and self._mine(channel):
            raw = _bytes_of(data, min(size, MAX_CLIPBOARD))
            self.guest_clipboard.emit(raw.decode("utf-8", "replace").rstrip("\0"))

    def _on_guest_request(self, channel: Any, selection: int, kind: int) -> bool:
        if not (self.clipboard_sharing and selection == CLIPBOARD and kind == UTF8_TEXT and self._mine(channel)):
            return False
        channel.clipboard_selection_notify(selection, kind, list(self._host_clipboard.encode()))
        return True

    def can_resize_guest(self) -> str:
        """'' when the guest's resolution can follow the window, else why not."""
        if not self.connected:
            return "the console is not connected"
        if not self.agent_connected:
            return "the guest has no SPICE agent (install spice-vdagent in the guest)"
        return ""

    def resize_guest(self, width: int, height: int) -> bool:
        """Ask the guest's agent for this resolution on its first monitor."""
        if self.can_resize_guest() or self._main is None or width < 320 or height < 200:
            return False
        self._main.update_display_enabled(0, True, False)
        self._main.update_display(0, 0, 0, width, height, True)
        return True

    def usb_manager(self) -> Any:
        """spice-glib's USB device manager for this session (None when not connected)."""
        return Spice.UsbDeviceManager.get(self._session) if self._session is not None else None

    # ---- spice-glib signals ---------------------------------------------------------------------

    def _mine(self, channel: Any) -> bool:
        return self._session is not None and channel.props.spice_session is self._session

    def _on_channel_new(self, session: Any, channel: Any) -> None:
        if session is not self._session:
            return
        _connect(channel, "channel-event", self._on_channel_event)
        endpoint = self._endpoint
        if endpoint is not None and endpoint.tunnel:  # every channel is a stream of its own through ssh
            argv = list(endpoint.tunnel)
            _connect(channel, "open-fd", lambda ch, _tls: ch.open_fd(open_stream(argv)))
        if isinstance(channel, Spice.MainChannel):
            self._main = channel
            _connect(channel, "notify::agent-connected", self._on_agent_update)
            _connect(channel, "main-agent-update", self._on_agent_update)  # the agent's capabilities came
            _connect(channel, "main-clipboard-selection-grab", self._on_guest_grab)
            _connect(channel, "main-clipboard-selection", self._on_guest_clipboard)
            _connect(channel, "main-clipboard-selection-request", self._on_guest_request)
        elif isinstance(channel, Spice.UsbredirChannel):
            self.usb_channels += 1
            self.features_changed.emit()
        elif isinstance(channel, Spice.PlaybackChannel):
            self.playback_channels += 1
            self.features_changed.emit()
        elif isinstance(channel, Spice.DisplayChannel):
            if channel.props.channel_id != 0:
                return  # one monitor for now
            _connect(channel, "display-primary-create", self._on_primary_create)
            _connect(channel, "display-primary-destroy", self._on_primary_destroy)
            _connect(channel, "display-invalidate", self._on_invalidate)
            self._display = channel
            channel.connect()
        elif isinstance(channel, Spice.InputsChannel):
            self._inputs = channel
            channel.connect()
        elif isinstance(channel, Spice.CursorChannel):
            _connect(channel, "cursor-set", self._on_cursor_set)
            _connect(channel, "cursor-hide", self._on_cursor_hide)
            _connect(channel, "cursor-reset", self._on_cursor_reset)
            channel.connect()

    def _on_channel_event(self, channel: Any, event: Any) -> None:
        if not self._mine(channel):
            return
        if event == _EV.ERROR_AUTH:
            self._error = "the password is wrong or missing"
            self._fail_auth()
        elif event == _EV.ERROR_TLS:
            self._fail(self._tls_failure(), permanent=True)
        elif event in (_EV.ERROR_CONNECT, _EV.ERROR_LINK, _EV.ERROR_IO):
            error = channel.get_error()
            detail = error.message if error is not None else event.value_nick
            if isinstance(channel, Spice.MainChannel) or self.status.state is not ConsoleState.CONNECTED:
                self._fail(f"could not connect: {detail}")
        elif event == _EV.CLOSED and isinstance(channel, Spice.MainChannel):
            self._fail(self._error or "the console closed the connection")

    def _tls_failure(self) -> str:
        """spice-glib says only ERROR_TLS (no GError; the detail goes to its log): name what was checked."""
        endpoint = self._endpoint
        signer = "the given CA certificate" if endpoint and endpoint.ca else "the CAs this system trusts (no CA given)"
        name = (f"the host subject {endpoint.host_subject!r}" if endpoint and endpoint.host_subject
                else f"the host name {endpoint.host if endpoint else ''!r}")
        return f"the TLS connection failed: the server's certificate did not verify against {signer} and {name}"

    def _on_primary_create(self, channel: Any, fmt: int, width: int, height: int, stride: int, _shmid: int,
                           data: int) -> None:
        if not self._mine(channel):
            return
        if fmt != SPICE_FORMAT_32_XRGB or not data:
            self._fail(f"the guest's screen uses SPICE surface format {fmt}, which vmgui cannot show", permanent=True)
            return
        try:
            fb = Framebuffer(width, height, stride=stride, address=int(data))
        except ValueError as err:
            self._fail(str(err), permanent=True)
            return
        self.framebuffer = fb
        self._cancel_timeout()
        self.resized.emit(fb)
        self._set_status(ConsoleState.CONNECTED, "")

    def _on_primary_destroy(self, channel: Any) -> None:
        if self._mine(channel):
            self._drop_framebuffer()  # spice-glib frees that memory next: nobody may read it any more

    def _on_invalidate(self, channel: Any, x: int, y: int, width: int, height: int) -> None:
        # QEMU's VGA path sends a redraw as thousands of 32-pixel strips a second, each its own dispatch:
        # gather them into one rectangle and report it once per BATCH_MS (a Python call per strip cost
        # a quarter of a core).
        if self.framebuffer is None or channel is not self._display:
            return
        dirty = self._dirty
        if dirty is None:
            self._dirty = (x, y, x + width, y + height)
            self._flush_id = GLib.timeout_add(BATCH_MS, self._flush_dirty)
        else:
            self._dirty = (min(dirty[0], x), min(dirty[1], y), max(dirty[2], x + width), max(dirty[3], y + height))

    def _flush_dirty(self) -> bool:
        dirty, self._dirty, self._flush_id = self._dirty, None, 0
        if dirty is not None and self.framebuffer is not None:
            self.frames += 1
            self.frame_updated.emit(dirty[0], dirty[1], dirty[2] - dirty[0], dirty[3] - dirty[1])
        return False

    def _on_cursor_set(self, channel: Any, width: int, height: int, hot_x: int, hot_y: int, rgba: Any) -> None:
        if not self._mine(channel):
            return
        if width <= 0 or height <= 0 or not rgba or width * height > 512 * 512:
            self.cursor_changed.emit(None)
            return
        data = _bytes_of(rgba, width * height * 4)
        if len(data) < width * height * 4:
            self.cursor_changed.emit(None)
            return
        self.cursor_changed.emit(CursorImage(width, height, hot_x, hot_y, data))

    def _on_cursor_hide(self, channel: Any) -> None:
        if self._mine(channel):
            self.cursor_changed.emit(CursorImage(0, 0, 0, 0, b""))  # the display hides the pointer

    def _on_cursor_reset(self, channel: Any) -> None:
        if self._mine(channel):
            self.cursor_changed.emit(None)

    def _on_session_disconnected(self, session: Any) -> None:
        if session is self._session:
            self._fail(self._error or "the console closed the connection")

    # ---- helpers --------------------------------------------------------------------------------

    def _drop_framebuffer(self) -> None:
        if self.framebuffer is not None:
            self.framebuffer = None
            self.resized.emit(None)

    def _stop_timers(self) -> None:
        self._cancel_timeout()
        if self._flush_id:
            GLib.source_remove(self._flush_id)
            self._flush_id = 0
        self._dirty = None
        if self._key_timer:
            GLib.source_remove(self._key_timer)
            self._key_timer = 0

    def _fail_auth(self) -> None:
        session, self._session = self._session, None
        self._stop_timers()
        if session is not None:
            session.disconnect()
        self._drop_framebuffer()
        self._set_status(ConsoleState.AUTH_NEEDED, self._error)

    def _fail(self, message: str, *, permanent: bool = False) -> None:
        session, self._session = self._session, None
        self._stop_timers()
        self._main = self._inputs = self._display = None
        if session is not None:
            session.disconnect()
        self._drop_framebuffer()
        self._set_status(ConsoleState.DISCONNECTED, message, permanent)

