"""One VNC connection through gtk-vnc's GVnc: handshake and auth, the framebuffer, input, and its state.

GVnc is a GObject library driven by the GLib main context, which Qt's event dispatcher iterates, so
everything here runs on the GUI thread with no thread of its own. GVnc decodes (Raw, CopyRect,
Hextile, ZRLE, Tight/JPEG) in C straight into vmgui's framebuffer memory.
"""

from __future__ import annotations

import ctypes
import logging
import warnings
from dataclasses import replace
from typing import Any

import gi

gi.require_version("GVnc", "1.0")
gi.require_version("Gio", "2.0")
from gi.repository import Gio, GLib, GObject, GVnc  # noqa: E402

from vmgui.console.framebuffer import Framebuffer  # noqa: E402
from vmgui.console.graphics import Endpoint  # noqa: E402
from vmgui.console.gvnc_framebuffer import attach, cursor_bgra  # noqa: E402
from vmgui.console.session_base import HANDSHAKE_TIMEOUT_S, SessionBase  # noqa: E402
from vmgui.console.state import CLOSED, ConsoleState, CursorImage  # noqa: E402

log = logging.getLogger(__name__)

_connect = GObject.Object.connect  # GVnc.Connection has no connect() of its own, but SPICE's do: one idiom
_E = GVnc.ConnectionEncoding
ENCODINGS = [
    _E.TIGHT_JPEG5, _E.ZRLE, _E.HEXTILE, _E.TIGHT, _E.COPY_RECT, _E.RAW,
    _E.DESKTOP_RESIZE, _E.EXTENDED_DESKTOP_RESIZE, _E.EXT_KEY_EVENT, _E.RICH_CURSOR, _E.XCURSOR,
    _E.LAST_RECT, _E.LED_STATE, _E.DESKTOP_NAME,
]
_A = GVnc.ConnectionAuth
_V = GVnc.ConnectionAuthVencrypt
# Most secure first. SASL and the TLS-less vendor schemes are not offered to GVnc.
_AUTH_ORDER = [_A.VENCRYPT, _A.VNC, _A.NONE]
_VENCRYPT_ORDER = [_V.X509VNC, _V.X509NONE, _V.TLSVNC, _V.TLSNONE]
# Where gtk-vnc looks for the CA of a VeNCrypt X.509 console, in this order ("~" being the home directory in
# the password database, not $HOME); with neither it falls back to the system's trust store.
CA_PATHS = "/etc/pki/CA/cacert.pem or ~/.pki/CA/cacert.pem"


def _explain_error(message: str) -> str:
    """GVnc's error, said as the failed check of the console's TLS certificate when it is one."""
    if not message.startswith("The certificate"):
        return message
    text = f"the console's TLS certificate could not be verified: {message}"
    if "not trusted" in message or "known issuer" in message:
        text += f" (CA certificate expected at {CA_PATHS})"
    return text


def _values(array: Any) -> list[int]:
    """The ints in a GValueArray (GVnc's signals still pass them; GLib deprecated the type)."""
    if array is None:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [int(array.get_nth(i)) for i in range(array.n_values)]


def _first_offered(preferred: list[Any], offered: list[int]) -> Any | None:
    """The first of our preferred choices the server offers."""
    return next((choice for choice in preferred if int(choice) in offered), None)


class VncSession(SessionBase):
    """Open it on an Endpoint; listen to the callbacks; close it. Reopen it for a new connection."""

    def __init__(self, *, handshake_timeout: float = HANDSHAKE_TIMEOUT_S) -> None:
        super().__init__(handshake_timeout)
        self._conn: Any = None
        self._retired: list[tuple[Any, Framebuffer | None]] = []  # closing: kept alive until GVnc lets go
        self._password = ""
        self._awaiting_password = False
        self._request_queued = False
        self._error = ""
        self._error_permanent = False

    # ---- lifecycle ------------------------------------------------------------------------------

    def open(self, endpoint: Endpoint) -> None:
        """Start connecting (returns at once); the status says how it goes."""
        self.close()
        if endpoint.protocol != "vnc":
            self._endpoint = endpoint
            self._set_status(ConsoleState.DISCONNECTED, f"{endpoint.describe()} is not a VNC display", True)
            return
        conn = GVnc.Connection()
        self._conn, self._endpoint, self._error, self.frames = conn, endpoint, "", 0
        self._error_permanent = False
        self._password = endpoint.password
        self._awaiting_password = False
        for signal, handler in (
            ("vnc-auth-choose-type", self._on_choose_type), ("vnc-auth-choose-subtype", self._on_choose_subtype),
            ("vnc-auth-credential", self._on_credential), ("vnc-auth-failure", self._on_auth_failure),
            ("vnc-auth-unsupported", self._on_auth_unsupported), ("vnc-initialized", self._on_initialized),
            ("vnc-framebuffer-update", self._on_update), ("vnc-desktop-resize", self._on_resize),
            ("vnc-pixel-format-changed", self._on_pixel_format), ("vnc-cursor-changed", self._on_cursor),
            ("vnc-desktop-rename", self._on_rename), ("vnc-error", self._on_error),
            ("vnc-disconnected", self._on_disconnected),
        ):
            _connect(conn, signal, handler)
        self._set_status(ConsoleState.CONNECTING, f"to {endpoint.describe()}")
        conn.set_shared(True)  # other viewers of the guest (its user, a helpdesk watching) stay connected
        if endpoint.kind == "fd":
            opened = conn.open_fd(endpoint.fd)
        elif endpoint.kind == "unix":
            opened = self._open_unix(conn, endpoint.path)
        else:
            opened = conn.open_host(endpoint.host, str(endpoint.port))
        if not opened:
            self._fail(f"could not open {endpoint.describe()}", permanent=True)
            return
        self._start_handshake_timeout(conn)

    @staticmethod
    def _open_unix(conn: Any, path: str) -> bool:
        return bool(conn.open_addr(Gio.UnixSocketAddress.new(path), None))

    def close(self) -> None:
        """Disconnect; callbacks from the old connection stop at once."""
        self._drop_connection()
        self._awaiting_password = False
        if self.status.state is not ConsoleState.DISCONNECTED:
            self._set_status(CLOSED.state, CLOSED.message)

    def set_password(self, password: str) -> None:
        """Answer a password request (the status is AUTH_NEEDED); after a failed one, connect again with it."""
        if self._conn is not None and self._awaiting_password:
            self._password, self._awaiting_password = password, False
            self._conn.set_credential(GVnc.ConnectionCredential.PASSWORD, password)
            self._set_status(ConsoleState.CONNECTING, "checking the password")
        elif self._conn is None and self._endpoint is not None and self._endpoint.kind != "fd":
            self.open(replace(self._endpoint, password=password))

    # ---- input ----------------------------------------------------------------------------------

    def _live(self) -> Any:
        return self._conn

    def send_key(self, down: bool, keysym: int, qnum: int) -> None:
        """A key by X11 keysym and XT scancode (QEMU's extended key event uses the scancode)."""
        if self.connected:
            self._conn.key_event(down, keysym, qnum)

    def send_pointer(self, buttons: int, x: int, y: int) -> None:
        """Buttons: bit 0 left, 1 middle, 2 right, 3/4 wheel up/down, 5/6 wheel left/right."""
        fb = self.framebuffer
        if self.connected and fb is not None:
            self._conn.pointer_event(buttons, max(0, min(x, fb.width - 1)), max(0, min(y, fb.height - 1)))

    def send_cut_text(self, text: str) -> None:
        if self.connected:
            data = text.encode("latin-1", "replace")
            # The binding takes `const void *` as a bare pointer (PyGObject refuses bytes); GVnc copies it at once.
            buffer = ctypes.create_string_buffer(data, len(data))
            self._conn.client_cut_text(ctypes.addressof(buffer), len(data))

    # ---- GVnc signals ---------------------------------------------------------------------------

    def _mine(self, conn: Any) -> bool:
        return conn is self._conn

    def _on_choose_type(self, conn: Any, types: Any) -> None:
        if self._mine(conn):
            offered = _values(types)
            auth = _first_offered(_AUTH_ORDER, offered)
            if auth is not None:
                conn.set_auth_type(auth)
            else:
                self._fail(f"the server wants an authentication vmgui does not support (RFB types {offered})",
                           permanent=True)

    def _on_choose_subtype(self, conn: Any, auth_type: int, subtypes: Any) -> None:
        if self._mine(conn):
            sub = _first_offered(_VENCRYPT_ORDER, _values(subtypes))
            if sub is not None:
                conn.set_auth_subtype(sub)
            else:
                self._fail("the server offers no TLS authentication vmgui supports", permanent=True)

    def _on_credential(self, conn: Any, creds: Any) -> None:
        if not self._mine(conn):
            return
        wanted = _values(creds)
        for cred in wanted:
            if cred == int(GVnc.ConnectionCredential.PASSWORD):
                if self._password:
                    conn.set_credential(cred, self._password)
                else:
                    self._awaiting_password = True
                    self._set_status(ConsoleState.AUTH_NEEDED, "the console asks for a password")
            elif cred == int(GVnc.ConnectionCredential.CLIENTNAME):
                # Names the client certificate's folder: {/etc/pki,~/.pki}/libvirt-vnc/, as for virt-viewer.
                conn.set_credential(cred, "libvirt-vnc")
            else:
                self._fail("the console asks for a user name, which vmgui does not support yet", permanent=True)
                return

    def _on_auth_failure(self, conn: Any, reason: str | None) -> None:
        if self._mine(conn):
            self._password = ""
            self._error = f"authentication failed ({reason})" if reason else "authentication failed"
            log.info("VNC %s", self._error)

    def _on_auth_unsupported(self, conn: Any, types: Any) -> None:
        if self._mine(conn):
            self._error = "the server's authentication is not supported"

    def _on_initialized(self, conn: Any) -> None:
        if not self._mine(conn):
            return
        self._cancel_timeout()
        self.name = conn.get_name() or ""
        conn.set_encodings([int(e) for e in ENCODINGS])
        if not self._new_framebuffer(conn, conn.get_width(), conn.get_height()):
            return
        self._set_status(ConsoleState.CONNECTED, "")

    def _new_framebuffer(self, conn: Any, width: int, height: int) -> bool:
        try:
            fb = Framebuffer(width, height)
            attach(fb, conn)
        except (ValueError, RuntimeError, OSError) as err:
            self._fail(str(err), permanent=True)
            return False
        self.framebuffer = fb
        self.resized.emit(fb)
        conn.framebuffer_update_request(False, 0, 0, width, height)
        return True

    def _on_resize(self, conn: Any, width: int, height: int) -> None:
        if not self._mine(conn):
            return
        fb = self.framebuffer
        if fb is not None and (fb.width, fb.height) == (width, height):
            conn.framebuffer_update_request(False, 0, 0, width, height)
            return
        self._new_framebuffer(conn, width, height)

    def _on_pixel_format(self, conn: Any, _fmt: Any) -> None:
        if self._mine(conn) and self.framebuffer is not None:
            self._new_framebuffer(conn, self.framebuffer.width, self.framebuffer.height)

    def _on_update(self, conn: Any, x: int, y: int, width: int, height: int) -> None:
        if not self._mine(conn):
            return
        self.frames += 1
        self.frame_updated.emit(x, y, width, height)
        if not self._request_queued:  # one incremental request per batch of rectangles
            self._request_queued = True
            GLib.idle_add(self._request_update, conn)

    def _request_update(self, conn: Any) -> bool:
        self._request_queued = False
        fb = self.framebuffer
        if self._mine(conn) and fb is not None:
            conn.framebuffer_update_request(True, 0, 0, fb.width, fb.height)
        return False

    def _on_cursor(self, conn: Any, cursor: Any) -> None:
        if not self._mine(conn):
            return
        if cursor is None:  # the server's empty cursor: no pointer over the console, as gtk-vnc's own widget does
            self.cursor_changed.emit(CursorImage(0, 0, 0, 0, b""))
            return
        width, height = cursor.get_width(), cursor.get_height()
        if width <= 0 or height <= 0:
            self.cursor_changed.emit(CursorImage(0, 0, 0, 0, b""))
            return
        rgba = self._cursor_rgba(cursor, width, height)
        self.cursor_changed.emit(None if rgba is None else
                                 CursorImage(width, height, cursor.get_hotx(), cursor.get_hoty(), rgba))

    @staticmethod
    def _cursor_rgba(cursor: Any, width: int, height: int) -> bytes | None:
        """A VncCursor's pixels as R,G,B,A bytes (None if it has none).

        GVnc keeps them as B,G,R,A bytes (on little- and big-endian hosts alike), alpha 0 or 255 from the
        RFB mask, not premultiplied.
        """
        bgra = cursor_bgra(cursor, width, height)
        if bgra is None:
            return None
        rgba = bytearray(len(bgra))
        rgba[0::4], rgba[1::4], rgba[2::4], rgba[3::4] = bgra[2::4], bgra[1::4], bgra[0::4], bgra[3::4]
        return bytes(rgba)

    def _on_rename(self, conn: Any, name: str) -> None:
        if self._mine(conn):
            self.name = name or ""

    def _on_error(self, conn: Any, message: str) -> None:
        if self._mine(conn):
            if not self._error:
                self._error = _explain_error(message)
                self._error_permanent = message.startswith("The certificate")
            log.info("VNC error: %s", message)

    def _on_disconnected(self, conn: Any) -> None:
        self._retired = [(c, fb) for c, fb in self._retired if c is not conn]
        if not self._mine(conn):
            return
        self._conn = None
        self._cancel_timeout()
        self.framebuffer = None  # GVnc's coroutine has ended: it writes no more pixels
        if self.status.state is ConsoleState.AUTH_NEEDED or "authentication" in self._error:
            self._set_status(ConsoleState.AUTH_NEEDED, self._error or "the console asks for a password")
        else:
            self._set_status(ConsoleState.DISCONNECTED, self._error or "the console closed the connection",
                             self._error_permanent)

    # ---- helpers --------------------------------------------------------------------------------

    def _drop_connection(self) -> None:
        """Shut the connection down; it and its framebuffer stay referenced until GVnc says it is done."""
        conn, self._conn = self._conn, None
        self._cancel_timeout()
        if conn is not None:
            self._retired.append((conn, self.framebuffer))
            conn.shutdown()
        self.framebuffer = None

    def _fail(self, message: str, *, permanent: bool = False) -> None:
        self._drop_connection()
        self._set_status(ConsoleState.DISCONNECTED, message, permanent)

