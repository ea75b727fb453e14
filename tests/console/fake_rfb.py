"""A fake RFB 3.8 (VNC) server in threads, written from RFC 6143, to exercise vmgui's VNC client with no guest.

It also speaks VeNCrypt (security type 19, as QEMU does with vnc_tls=1) with X.509 TLS: the sub-types
X509None and X509Vnc, written from the VeNCrypt extension as QEMU and TigerVNC document it.
"""

from __future__ import annotations

import argparse
import array
import contextlib
import logging
import os
import random
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

log = logging.getLogger(__name__)

RGB = tuple[int, int, int]
Rect = tuple[int, int, int, int]  # x, y, w, h
Event = tuple[Any, ...]

ENC_RAW: Final = 0
ENC_COPYRECT: Final = 1
ENC_DESKTOP_SIZE: Final = -223
ENC_QEMU_EXT_KEY: Final = -258
ENC_RICH_CURSOR: Final = -239  # the Cursor pseudo-encoding of RFC 6143 7.8.1

AUTH_NONE: Final = 1
AUTH_VNC: Final = 2
AUTH_VENCRYPT: Final = 19

VENCRYPT_X509NONE: Final = 260
VENCRYPT_X509VNC: Final = 261

# auth= name -> (RFB security type, VeNCrypt sub-type or None)
AUTHS: Final[dict[str, tuple[int, int | None]]] = {
    "none": (AUTH_NONE, None),
    "vnc": (AUTH_VNC, None),
    "vencrypt-x509none": (AUTH_VENCRYPT, VENCRYPT_X509NONE),
    "vencrypt-x509vnc": (AUTH_VENCRYPT, VENCRYPT_X509VNC),
}

# Misbehaviours, by when they strike: before the version, at ServerInit, or on the first update request.
MISBEHAVIOURS: Final = frozenset(
    {
        "huge-rect",
        "truncated",
        "huge-cut-text",
        "bad-version",
        "huge-desktop",
        "bad-encoding",
        "close-after-init",
        "slow-handshake",
    }
)
_ON_UPDATE: Final = frozenset({"huge-rect", "truncated", "huge-cut-text", "bad-encoding"})

_MAX_CUT_TEXT: Final = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The client sent something this server does not accept; the connection is closed."""


@dataclass(frozen=True)
class PixelFormat:
    """An RFB PIXEL_FORMAT (RFC 6143 7.4): how a pixel's value is built and laid out on the wire."""

    bpp: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255
    red_shift: int = 16
    green_shift: int = 8
    blue_shift: int = 0

    def pack(self) -> bytes:
        """The 16 bytes of the format as sent in ServerInit and SetPixelFormat."""
        return struct.pack(
            ">BBBBHHHBBBxxx",
            self.bpp,
            self.depth,
            int(self.big_endian),
            int(self.true_colour),
            self.red_max,
            self.green_max,
            self.blue_max,
            self.red_shift,
            self.green_shift,
            self.blue_shift,
        )

    @classmethod
    def unpack(cls, data: bytes) -> PixelFormat:
        """Parse the 16 bytes of a PIXEL_FORMAT."""
        bpp, depth, be, tc, rmax, gmax, bmax, rsh, gsh, bsh = struct.unpack(">BBBBHHHBBBxxx", data)
        return cls(bpp, depth, be != 0, tc != 0, rmax, gmax, bmax, rsh, gsh, bsh)

    def as_dict(self) -> dict[str, int | bool]:
        """The fields by name, as recorded in ("set_pixel_format", dict) events."""
        return {
            "bpp": self.bpp,
            "depth": self.depth,
            "big_endian": self.big_endian,
            "true_colour": self.true_colour,
            "red_max": self.red_max,
            "green_max": self.green_max,
            "blue_max": self.blue_max,
            "red_shift": self.red_shift,
            "green_shift": self.green_shift,
            "blue_shift": self.blue_shift,
        }

    def check(self) -> None:
        """Raise ProtocolError unless this server can produce pixels in this format."""
        if not self.true_colour:
            raise ProtocolError(f"client asked for a colour-map pixel format ({self.bpp} bpp): not supported")
        if self.bpp not in (8, 16, 32):
            raise ProtocolError(f"client asked for {self.bpp} bits per pixel: only 8, 16 and 32 are supported")
        for mx, sh in (
            (self.red_max, self.red_shift),
            (self.green_max, self.green_shift),
            (self.blue_max, self.blue_shift),
        ):
            if mx == 0 or (mx << sh) >= 1 << self.bpp:
                raise ProtocolError(f"client pixel format does not fit {self.bpp} bpp: {self.as_dict()}")

    @property
    def bytes_per_pixel(self) -> int:
        """Bytes one pixel takes on the wire."""
        return self.bpp // 8


RGB32_LE: Final = PixelFormat()  # blue at byte 0, green 1, red 2: the server's own format and the streamed one


def convert_rgb(rgb: bytes | bytearray | memoryview, pf: PixelFormat) -> bytes:
    """Turn packed 8-bit R,G,B triples into pixels of the client's format."""
    n = len(rgb) // 3
    shifts = (pf.red_shift, pf.green_shift, pf.blue_shift)
    if (
        pf.bpp == 32
        and pf.red_max == pf.green_max == pf.blue_max == 255
        and all(s % 8 == 0 and s <= 24 for s in shifts)
        and len(set(shifts)) == 3
    ):
        out = bytearray(n * 4)
        for channel, shift in enumerate(shifts):
            pos = 3 - shift // 8 if pf.big_endian else shift // 8
            out[pos::4] = rgb[channel::3]
        return bytes(out)
    tables = [
        [((v * mx + 127) // 255) << sh for v in range(256)]
        for mx, sh in ((pf.red_max, pf.red_shift), (pf.green_max, pf.green_shift), (pf.blue_max, pf.blue_shift))
    ]
    tr, tg, tb = tables
    values = [tr[r] | tg[g] | tb[b] for r, g, b in zip(rgb[0::3], rgb[1::3], rgb[2::3], strict=True)]
    code = {8: "B", 16: "H", 32: "I" if array.array("I").itemsize == 4 else "L"}[pf.bpp]
    arr = array.array(code, values)
    if pf.bpp > 8 and pf.big_endian != (sys.byteorder == "big"):
        arr.byteswap()
    return arr.tobytes()


def _reverse_bits(byte: int) -> int:
    return int(f"{byte:08b}"[::-1], 2)


def cursor_mask(alpha: bytes, width: int, height: int) -> bytes:
    """RFB's cursor bitmask: rows of ceil(width/8) bytes, the leftmost pixel in the top bit, 1 where alpha >= 128."""
    stride = (width + 7) // 8
    mask = bytearray(stride * height)
    for y in range(height):
        for x in range(width):
            if alpha[y * width + x] >= 128:
                mask[y * stride + x // 8] |= 0x80 >> (x % 8)
    return bytes(mask)


def vnc_auth_response(password: str, challenge: bytes) -> bytes:
    """The VNC-authentication answer to a 16-byte challenge: DES-ECB, key = password's first 8 bytes, bits mirrored."""
    from Crypto.Cipher import DES

    key = bytes(_reverse_bits(b) for b in password.encode()[:8].ljust(8, b"\0"))
    return bytes(DES.new(key, DES.MODE_ECB).encrypt(bytes(challenge)))


def _intersect(a: Rect, b: Rect) -> Rect | None:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0) if x1 > x0 and y1 > y0 else None


def _subtract(rects: Sequence[Rect], cut: Rect) -> list[Rect]:
    """The parts of `rects` outside `cut`."""
    out: list[Rect] = []
    for r in rects:
        i = _intersect(r, cut)
        if i is None:
            out.append(r)
            continue
        x, y, w, h = r
        ix, iy, iw, ih = i
        if iy > y:
            out.append((x, y, w, iy - y))
        if iy + ih < y + h:
            out.append((x, iy + ih, w, y + h - iy - ih))
        if ix > x:
            out.append((x, iy, ix - x, ih))
        if ix + iw < x + w:
            out.append((ix + iw, iy, x + w - ix - iw, ih))
    return out


def _bbox(rects: Sequence[Rect]) -> Rect:
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    x1, y1 = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("client closed the connection")
        buf += chunk
    return bytes(buf)


def _flush_tls(sock: socket.socket, outgoing: ssl.MemoryBIO) -> None:
    """Send what the TLS engine has written to its outgoing buffer."""
    data = outgoing.read()
    if data:
        sock.sendall(data)


def _update_header(nrects: int) -> bytes:
    return struct.pack(">BxH", 0, nrects)


def _rect_header(x: int, y: int, w: int, h: int, encoding: int) -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding)


def make_stream_frames(width: int, height: int, count: int = 30, seed: int = 1) -> list[bytes]:
    """Desktop-like frames in RGB32 little-endian (B, G, R, 0 per pixel) that change from one to the next.

    A flat background and taskbar, a window with text-like stripes and a blinking caret, a moving
    square, and a noisy "video" panel that is new in every frame.
    """
    rng = random.Random(seed)

    def px(rgb: RGB) -> bytes:
        return bytes((rgb[2], rgb[1], rgb[0], 0))

    def paint(buf: bytearray, x: int, y: int, w: int, h: int, row: bytes) -> None:
        x, y = max(0, x), max(0, y)
        w, h = min(w, width - x), min(h, height - y)
        if w <= 0 or h <= 0:
            return
        row = row[: w * 4]
        for yy in range(y, y + h):
            start = (yy * width + x) * 4
            buf[start : start + w * 4] = row

    base = bytearray(px((38, 110, 140)) * (width * height))
    bar = max(1, height // 27)
    paint(base, 0, height - bar, width, bar, px((45, 45, 48)) * width)
    wx, wy, ww, wh = width // 8, height // 8, width // 2, height // 2
    title = max(1, wh // 18)
    paint(base, wx, wy, ww, title, px((60, 90, 200)) * ww)
    paint(base, wx, wy + title, ww, wh - title, px((250, 250, 250)) * ww)
    line_pitch, glyph_h = 18, 10
    ink = px((30, 30, 30))
    paper = px((250, 250, 250))
    for ty in range(wy + title + 8, wy + wh - glyph_h, line_pitch):
        words: list[bytes] = []
        used = 8
        while used < ww - 80:
            n = rng.randint(2, 12) * 7
            words.append(ink * n + paper * 6)
            used += n + 6
        row = paper * 8 + b"".join(words)
        row = row[: (ww - 16) * 4]
        paint(base, wx + 8, ty, len(row) // 4, glyph_h, row)
    vx, vy = width - width // 4 - max(1, width // 32), height // 6
    vw, vh = max(1, width // 4), max(1, height // 4)
    frames: list[bytes] = []
    for i in range(count):
        frame = bytearray(base)
        noise = random.Random(seed * 1000 + i).randbytes(vw * vh * 4)
        for yy in range(vh):
            paint(frame, vx, vy + yy, vw, 1, noise[yy * vw * 4 : (yy + 1) * vw * 4])
        side = max(1, min(width, height) // 12)
        span = max(1, width - side)
        sx = (i * max(1, width // count)) % span
        paint(frame, sx, height - bar - side - 4, side, side, px((230, 120, 20)) * side)
        if i % 2 == 0:
            paint(frame, wx + 10, wy + title + 8, 2, glyph_h, ink * 2)
        frames.append(bytes(frame))
    return frames


@dataclass
class _Request:
    incremental: bool
    rect: Rect


@dataclass
class _Connection:
    sock: socket.socket
    minor: int = 8
    pf: PixelFormat = RGB32_LE
    encodings: list[int] = field(default_factory=list)
    fb_w: int = 0  # the framebuffer size the client knows
    fb_h: int = 0
    dirty: list[Rect] = field(default_factory=list)
    copies: list[tuple[int, int, int, int, int, int]] = field(default_factory=list)  # sx, sy, x, y, w, h
    request: _Request | None = None
    pending_resize: bool = False
    outbox: list[bytes] = field(default_factory=list)
    closed: bool = False
    frame_index: int = 0
    cursor_pending: bool = False  # the server's cursor goes out with the next update
    writer: threading.Thread | None = None

    def shutdown(self) -> None:
        """Wake any thread blocked on the socket; the connection's own thread closes it."""
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class FakeRfbServer:
    """An RFB 3.8 server on 127.0.0.1 with an RGB framebuffer, recording what clients send.

    Threads with blocking sockets: one accepts, and each client gets a reader (handshake, then client
    messages) and a writer (framebuffer updates and other server messages), so a client on the
    calling thread's event loop never waits for the caller.
    """

    def __init__(
        self,
        width: int = 640,
        height: int = 480,
        *,
        name: str = "fake",
        auth: str = "none",
        password: str = "",
        misbehave: str | None = None,
        stream: bool = False,
        stream_frames: int = 30,
        host: str = "127.0.0.1",
        port: int = 0,
        slow_seconds: float = 10.0,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        if auth not in AUTHS:
            raise ValueError(f"auth must be one of {sorted(AUTHS)}, not {auth!r}")
        if misbehave is not None and misbehave not in MISBEHAVIOURS:
            raise ValueError(f"unknown misbehaviour {misbehave!r}; known: {sorted(MISBEHAVIOURS)}")
        _check_size(width, height)
        self.name = name
        self.auth = auth
        self.password = password
        self.misbehave = misbehave
        self.stream = stream
        self.host = host
        self.port = port
        self.slow_seconds = slow_seconds
        self._width = width
        self._height = height
        self._fb = bytearray(width * height * 3)
        self._cond = threading.Condition()
        self._events: list[Event] = []
        self._conns: list[_Connection] = []
        self._threads: list[threading.Thread] = []
        self._listener: socket.socket | None = None
        self._stopping = threading.Event()
        self._frames: list[bytes] = make_stream_frames(width, height, stream_frames) if stream else []
        self._converted_frames: dict[PixelFormat, list[bytes]] = {RGB32_LE: self._frames}
        self._frames_sent = 0
        self._cursor: tuple[int, int, int, int, bytes] | None = None  # width, height, hot x, hot y, RGBA
        self._tls: ssl.SSLContext | None = None
        if AUTHS[auth][0] == AUTH_VENCRYPT:
            if tls_cert is None or tls_key is None:
                raise ValueError(f"auth={auth!r} needs tls_cert and tls_key")
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(tls_cert, tls_key)

    # --- life -----------------------------------------------------------------------------------

    def start(self) -> FakeRfbServer:
        """Listen and start accepting clients; `.port` is the real port from here on."""
        if self._listener is not None:
            return self
        self._stopping.clear()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(8)
        listener.settimeout(0.05)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._spawn(self._accept_loop, "fake-rfb-accept")
        return self

    def stop(self) -> None:
        """Close the listener and every client socket, and join the threads (2 s at most)."""
        self._stopping.set()
        with self._cond:
            conns = list(self._conns)
            threads = list(self._threads)
            self._cond.notify_all()
        for conn in conns:
            conn.shutdown()
        deadline = time.monotonic() + 2.0
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        alive = [t.name for t in threads if t.is_alive()]
        if alive:
            log.warning("fake RFB server: threads still running after stop: %s", alive)

    def __enter__(self) -> FakeRfbServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- the framebuffer ------------------------------------------------------------------------

    @property
    def width(self) -> int:
        """The framebuffer's width."""
        return self._width

    @property
    def height(self) -> int:
        """The framebuffer's height."""
        return self._height

    def fill(self, rgb: RGB) -> None:
        """Paint the whole framebuffer one colour."""
        self.fill_rect(0, 0, self._width, self._height, rgb)

    def fill_rect(self, x: int, y: int, w: int, h: int, rgb: RGB) -> None:
        """Paint a rectangle (clipped to the framebuffer) one colour."""
        with self._cond:
            r = _intersect((x, y, w, h), (0, 0, self._width, self._height))
            if r is None:
                return
            row = bytes(rgb) * r[2]
            for yy in range(r[1], r[1] + r[3]):
                start = (yy * self._width + r[0]) * 3
                self._fb[start : start + len(row)] = row
            self._mark_dirty(r)

    def put_rgb(self, x: int, y: int, w: int, h: int, data: bytes) -> None:
        """Copy w*h packed R,G,B pixels into the framebuffer at (x, y); the rectangle must fit."""
        if len(data) != w * h * 3:
            raise ValueError(f"put_rgb wants {w * h * 3} bytes, got {len(data)}")
        with self._cond:
            if _intersect((x, y, w, h), (0, 0, self._width, self._height)) != (x, y, w, h):
                raise ValueError(f"rectangle {(x, y, w, h)} is outside the {self._width}x{self._height} framebuffer")
            for row in range(h):
                start = ((y + row) * self._width + x) * 3
                self._fb[start : start + w * 3] = data[row * w * 3 : (row + 1) * w * 3]
            self._mark_dirty((x, y, w, h))

    def set_pattern(self, fn: Callable[[int, int], RGB]) -> None:
        """Paint every pixel with fn(x, y) -> (r, g, b)."""
        with self._cond:
            w, h = self._width, self._height
        data = bytearray()
        for y in range(h):
            for x in range(w):
                data += bytes(fn(x, y))
        with self._cond:
            if (w, h) == (self._width, self._height):
                self._fb[:] = data
                self._mark_dirty((0, 0, w, h))

    def get_rgb(self, x: int, y: int) -> RGB:
        """The colour of one framebuffer pixel."""
        with self._cond:
            i = (y * self._width + x) * 3
            return (self._fb[i], self._fb[i + 1], self._fb[i + 2])

    def snapshot(self) -> bytes:
        """A copy of the framebuffer as packed R,G,B rows."""
        with self._cond:
            return bytes(self._fb)

    def copy_rect(self, src_x: int, src_y: int, x: int, y: int, w: int, h: int) -> None:
        """Copy a rectangle within the framebuffer, sent as CopyRect to clients that announced it."""
        with self._cond:
            bounds = (0, 0, self._width, self._height)
            src, dst = (src_x, src_y, w, h), (x, y, w, h)
            if _intersect(src, bounds) != src or _intersect(dst, bounds) != dst:
                raise ValueError("copy_rect: source and destination must lie inside the framebuffer")
            rows = [
                bytes(self._fb[((src_y + r) * self._width + src_x) * 3 : ((src_y + r) * self._width + src_x + w) * 3])
                for r in range(h)
            ]
            for r, data in enumerate(rows):
                start = ((y + r) * self._width + x) * 3
                self._fb[start : start + w * 3] = data
            for conn in self._conns:
                known = (0, 0, conn.fb_w, conn.fb_h)
                src_clean = not any(_intersect(src, d) for d in conn.dirty)
                if (
                    ENC_COPYRECT in conn.encodings
                    and not conn.pending_resize
                    and src_clean
                    and _intersect(src, known) == src
                    and _intersect(dst, known) == dst
                ):
                    conn.copies.append((src_x, src_y, x, y, w, h))
                    conn.dirty = _subtract(conn.dirty, dst)
                else:
                    self._mark_conn_dirty(conn, dst)
            self._cond.notify_all()

    def resize(self, width: int, height: int) -> None:
        """Change the framebuffer's size (content kept where it overlaps, black elsewhere).

        Clients that announced DesktopSize (-223) get a DesktopSize pseudo-rectangle as the next
        update, then the whole new framebuffer on their next request.
        """
        if self.stream:
            raise RuntimeError("resize is not supported in stream mode")
        _check_size(width, height)
        with self._cond:
            fb = bytearray(width * height * 3)
            keep_w, keep_h = min(width, self._width), min(height, self._height)
            for y in range(keep_h):
                fb[y * width * 3 : (y * width + keep_w) * 3] = self._fb[
                    y * self._width * 3 : (y * self._width + keep_w) * 3
                ]
            self._fb, self._width, self._height = fb, width, height
            for conn in self._conns:
                if ENC_DESKTOP_SIZE in conn.encodings:
                    conn.pending_resize = True
                    conn.copies.clear()
                    conn.dirty = []
                else:
                    log.warning(
                        "fake RFB server: resized to %dx%d but the client did not announce DesktopSize", width, height
                    )
                    self._mark_conn_dirty(conn, (0, 0, width, height))
            self._cond.notify_all()

    def set_cursor(self, width: int, height: int, hot_x: int, hot_y: int, rgba: bytes) -> None:
        """Give clients the pointer shape: width*height R,G,B,A pixels, row after row, hotspot (hot_x, hot_y).

        It goes as a Cursor pseudo-rectangle (RFC 6143 7.8.1), to clients that announced it (-239),
        with their next framebuffer update (at once when one is requested), and to clients announcing
        it later. RFB's mask has one bit a pixel: alpha 128 and up is opaque, lower is transparent.
        set_cursor(0, 0, 0, 0, b"") is the empty cursor: the client shows no pointer. Not in stream mode.
        """
        if not (0 <= width <= 65535 and 0 <= height <= 65535) or (width == 0) != (height == 0):
            raise ValueError(f"cursor size {width}x{height} must be 0x0 or within 1..65535")
        if len(rgba) != width * height * 4:
            raise ValueError(f"a {width}x{height} cursor takes {width * height * 4} RGBA bytes, not {len(rgba)}")
        inside = 0 <= hot_x < width and 0 <= hot_y < height if width else (hot_x, hot_y) == (0, 0)
        if not inside:
            raise ValueError(f"hotspot {(hot_x, hot_y)} is outside the {width}x{height} cursor")
        with self._cond:
            self._cursor = (width, height, hot_x, hot_y, bytes(rgba))
            for conn in self._conns:
                if ENC_RICH_CURSOR in conn.encodings:
                    conn.cursor_pending = True
            self._cond.notify_all()

    def send_cut_text(self, text: bytes) -> None:
        """Send ServerCutText (Latin-1 bytes) to every connected client."""
        self._broadcast(struct.pack(">BxxxI", 3, len(text)) + text)

    def bell(self) -> None:
        """Send Bell to every connected client."""
        self._broadcast(b"\x02")

    # --- what clients sent ----------------------------------------------------------------------

    @property
    def events(self) -> list[Event]:
        """A copy of everything clients sent so far, oldest first."""
        with self._cond:
            return list(self._events)

    def clear_events(self) -> None:
        """Forget the recorded events."""
        with self._cond:
            self._events.clear()

    def find(self, predicate: Callable[[Event], bool]) -> Event | None:
        """The first recorded event matching, or None (never waits: for a client on this thread's loop)."""
        with self._cond:
            return next((e for e in self._events if predicate(e)), None)

    def wait_for(self, predicate: Callable[[Event], bool], timeout: float = 2.0) -> Event:
        """Block until a recorded event (past or future) matches and return it; TimeoutError otherwise.

        This blocks the calling thread: do not use it when the client runs on that thread's event loop.
        """
        found: list[Event] = []

        def match() -> bool:
            found[:] = [e for e in self._events if predicate(e)][:1]
            return bool(found)

        with self._cond:
            if not self._cond.wait_for(match, timeout):
                raise TimeoutError(f"no matching event within {timeout} s; events: {self._events!r}")
            return found[0]

    @property
    def frames_sent(self) -> int:
        """Full frames sent in stream mode."""
        with self._cond:
            return self._frames_sent

    @property
    def client_count(self) -> int:
        """Clients connected right now."""
        with self._cond:
            return len(self._conns)

    # --- internals ------------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        with self._cond:
            self._threads = [th for th in self._threads if th.is_alive()]
            self._threads.append(t)
        t.start()
        return t

    def _record(self, event: Event) -> None:
        with self._cond:
            self._events.append(event)
            self._cond.notify_all()

    def _broadcast(self, message: bytes) -> None:
        with self._cond:
            for conn in self._conns:
                if conn.writer is not None:
                    conn.outbox.append(message)
            self._cond.notify_all()

    def _mark_dirty(self, rect: Rect) -> None:
        """Call with the lock held."""
        for conn in self._conns:
            self._mark_conn_dirty(conn, rect)
        self._cond.notify_all()

    def _mark_conn_dirty(self, conn: _Connection, rect: Rect) -> None:
        r = _intersect(rect, (0, 0, min(conn.fb_w, self._width), min(conn.fb_h, self._height)))
        if r is None or conn.pending_resize:
            return
        conn.dirty.append(r)
        if len(conn.dirty) > 32:
            conn.dirty = [_bbox(conn.dirty)]

    def _accept_loop(self) -> None:
        listener = self._listener
        assert listener is not None
        n = 0
        while not self._stopping.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            sock.settimeout(None)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Connection(sock)
            with self._cond:
                self._conns.append(conn)
            n += 1
            self._spawn(self._serve, f"fake-rfb-client-{n}", conn)

    def _serve(self, conn: _Connection) -> None:
        self._record(("connected",))
        try:
            if self._handshake(conn):
                if self.misbehave != "huge-desktop":
                    conn.writer = self._spawn(self._write_loop, threading.current_thread().name + "-writer", conn)
                self._read_loop(conn)
        except ProtocolError as e:
            log.error("fake RFB server: %s; closing the connection", e)
        except (ConnectionError, OSError) as e:
            log.debug("fake RFB server: connection ended: %s", e)
        finally:
            with self._cond:
                conn.closed = True
                self._cond.notify_all()
            conn.shutdown()
            if conn.writer is not None:
                conn.writer.join(2.0)
            conn.sock.close()
            with self._cond:
                if conn in self._conns:
                    self._conns.remove(conn)
            self._record(("disconnected",))

    def _handshake(self, conn: _Connection) -> bool:
        """Version, security and init (RFC 6143 7.1-7.3); False when the connection should end."""
        sock = conn.sock
        if self.misbehave == "slow-handshake" and self._stopping.wait(self.slow_seconds):
            return False
        if self.misbehave == "bad-version":
            _misbehave_bad_version(conn)
            return False
        sock.sendall(b"RFB 003.008\n")
        version = _recv_exact(sock, 12)
        m = re.fullmatch(rb"RFB (\d{3})\.(\d{3})\n", version)
        if m is None or int(m[1]) != 3:
            raise ProtocolError(f"client sent a bad protocol version {version!r}")
        minor = int(m[2])
        conn.minor = 8 if minor >= 8 else 7 if minor == 7 else 3
        sec, subtype = AUTHS[self.auth]
        if conn.minor == 3:
            if sec == AUTH_VENCRYPT:
                raise ProtocolError("client speaks RFB 3.3, which cannot negotiate VeNCrypt")
            sock.sendall(struct.pack(">I", sec))
        else:
            sock.sendall(bytes((1, sec)))
            chosen = _recv_exact(sock, 1)[0]
            if chosen != sec:
                self._security_failed(conn, f"Security type {chosen} is not offered")
                return False
        inner = sec
        if sec == AUTH_VENCRYPT:
            assert subtype is not None
            if not self._vencrypt(conn, subtype):
                return False
            sock = conn.sock  # from here on, the plaintext side of the TLS session
            inner = AUTH_VNC if subtype == VENCRYPT_X509VNC else AUTH_NONE
        if inner == AUTH_VNC:
            challenge = os.urandom(16)
            sock.sendall(challenge)
            response = _recv_exact(sock, 16)
            if response != vnc_auth_response(self.password, challenge):
                self._security_failed(conn, "Authentication failed")
                return False
            sock.sendall(struct.pack(">I", 0))
        elif conn.minor == 8 or sec == AUTH_VENCRYPT:
            sock.sendall(struct.pack(">I", 0))
        self._record(("auth", True))
        shared = _recv_exact(sock, 1)[0]
        self._record(("client_init", bool(shared)))
        with self._cond:
            w, h = (65535, 65535) if self.misbehave == "huge-desktop" else (self._width, self._height)
            conn.fb_w, conn.fb_h = w, h
            conn.dirty = [(0, 0, min(w, self._width), min(h, self._height))]
        name = self.name.encode()
        sock.sendall(struct.pack(">HH", w, h) + RGB32_LE.pack() + struct.pack(">I", len(name)) + name)
        if self.misbehave == "close-after-init":
            log.info("fake RFB server: misbehaving: closing right after ServerInit")
            return False
        return True

    def _vencrypt(self, conn: _Connection, subtype: int) -> bool:
        """VeNCrypt 0.2 up to a TLS session; conn.sock becomes its plaintext side. False: the connection ends."""
        sock = conn.sock
        sock.sendall(b"\x00\x02")
        major, minor = _recv_exact(sock, 2)
        if (major, minor) != (0, 2):
            sock.sendall(b"\x01")
            self._record(("auth", False))
            log.info("fake RFB server: client wants VeNCrypt %d.%d, not 0.2", major, minor)
            return False
        sock.sendall(b"\x00" + struct.pack(">BI", 1, subtype))
        (chosen,) = struct.unpack(">I", _recv_exact(sock, 4))
        self._record(("vencrypt_subtype", chosen))
        if chosen != subtype:
            sock.sendall(b"\x00")
            self._record(("auth", False))
            log.info("fake RFB server: client chose VeNCrypt sub-type %d, not the offered %d", chosen, subtype)
            return False
        sock.sendall(b"\x01")
        assert self._tls is not None
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = self._tls.wrap_bio(incoming, outgoing, server_side=True)
        try:
            while True:
                try:
                    tls.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    _flush_tls(sock, outgoing)
                    data = sock.recv(65536)
                    if not data:
                        raise ConnectionError("client closed the connection during the TLS handshake") from None
                    incoming.write(data)
            _flush_tls(sock, outgoing)
        except (ssl.SSLError, ConnectionError) as e:
            with contextlib.suppress(OSError):
                _flush_tls(sock, outgoing)  # the alert, if any
            self._record(("auth", False))
            log.info("fake RFB server: TLS handshake failed or the client left right after it: %s", e)
            return False
        plain, relay_end = socket.socketpair()
        self._spawn(self._tls_relay, threading.current_thread().name + "-tls", sock, tls, incoming, outgoing, relay_end)
        conn.sock = plain
        return True

    def _tls_relay(
        self,
        raw: socket.socket,
        tls: ssl.SSLObject,
        incoming: ssl.MemoryBIO,
        outgoing: ssl.MemoryBIO,
        inner: socket.socket,
    ) -> None:
        """Carry bytes between the client's TLS session and the plaintext socket the connection reads and writes.

        One thread does every TLS operation (an SSL object is not for two threads at once), while the
        connection keeps its reader and writer threads on an ordinary socket.
        """

        def decrypt() -> None:
            while True:
                try:
                    plain = tls.read(65536)
                except ssl.SSLWantReadError:
                    break
                if not plain:
                    raise ConnectionError("client closed the TLS session")
                inner.sendall(plain)
            _flush_tls(raw, outgoing)

        try:
            decrypt()  # what came with the end of the handshake
            while not self._stopping.is_set():
                ready, _, _ = select.select([raw, inner], [], [], 0.05)
                if raw in ready:
                    data = raw.recv(65536)
                    if not data:
                        break
                    incoming.write(data)
                    decrypt()
                if inner in ready:
                    data = inner.recv(65536)
                    if not data:
                        with contextlib.suppress(ssl.SSLError):
                            tls.unwrap()
                        break
                    tls.write(data)
                    _flush_tls(raw, outgoing)
        except (ssl.SSLError, OSError) as e:  # ConnectionError included
            log.debug("fake RFB server: TLS relay ended: %s", e)
        finally:
            with contextlib.suppress(OSError):
                _flush_tls(raw, outgoing)
            for s in (inner, raw):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _security_failed(self, conn: _Connection, reason: str) -> None:
        self._record(("auth", False))
        log.info("fake RFB server: security failed: %s", reason)
        msg = struct.pack(">I", 1)
        if conn.minor == 8:
            msg += struct.pack(">I", len(reason)) + reason.encode()
        conn.sock.sendall(msg)

    def _read_loop(self, conn: _Connection) -> None:
        """Client-to-server messages (RFC 6143 7.5, plus QEMU's 255) until the client goes."""
        sock = conn.sock
        while True:
            kind = _recv_exact(sock, 1)[0]
            if kind == 0:
                pf = PixelFormat.unpack(_recv_exact(sock, 19)[3:])
                self._record(("set_pixel_format", pf.as_dict()))
                pf.check()
                with self._cond:
                    conn.pf = pf
            elif kind == 2:
                (count,) = struct.unpack(">xH", _recv_exact(sock, 3))
                encodings = list(struct.unpack(f">{count}i", _recv_exact(sock, 4 * count)))
                self._record(("set_encodings", encodings))
                with self._cond:
                    conn.encodings = encodings
                    conn.cursor_pending = ENC_RICH_CURSOR in encodings and self._cursor is not None
                    if ENC_QEMU_EXT_KEY in encodings and conn.writer is not None:
                        conn.outbox.append(
                            _update_header(1) + _rect_header(0, 0, conn.fb_w, conn.fb_h, ENC_QEMU_EXT_KEY)
                        )
                    self._cond.notify_all()
            elif kind == 3:
                inc, x, y, w, h = struct.unpack(">BHHHH", _recv_exact(sock, 9))
                self._record(("update_request", bool(inc), x, y, w, h))
                with self._cond:
                    req = _Request(bool(inc), (x, y, w, h))
                    if conn.request is not None:
                        merged = [r for r in (conn.request.rect, req.rect) if r[2] > 0 and r[3] > 0]
                        req = _Request(
                            conn.request.incremental and req.incremental, _bbox(merged) if merged else req.rect
                        )
                    conn.request = req
                    self._cond.notify_all()
            elif kind == 4:
                down, keysym = struct.unpack(">BxxI", _recv_exact(sock, 7))
                self._record(("key", bool(down), keysym))
            elif kind == 5:
                mask, x, y = struct.unpack(">BHH", _recv_exact(sock, 5))
                self._record(("pointer", mask, x, y))
            elif kind == 6:
                (length,) = struct.unpack(">xxxI", _recv_exact(sock, 7))
                if length > _MAX_CUT_TEXT:
                    raise ProtocolError(f"client cut text of {length} bytes is too long")
                self._record(("cut_text", _recv_exact(sock, length)))
            elif kind == 255:
                self._read_qemu_message(conn)
            else:
                raise ProtocolError(f"unknown client message type {kind}")

    def _read_qemu_message(self, conn: _Connection) -> None:
        sub = _recv_exact(conn.sock, 1)[0]
        if sub == 0:
            down, keysym, keycode = struct.unpack(">HII", _recv_exact(conn.sock, 10))
            self._record(("qemu_key", bool(down), keysym, keycode))
        elif sub == 1:
            (op,) = struct.unpack(">H", _recv_exact(conn.sock, 2))
            if op == 2:
                _recv_exact(conn.sock, 6)
            self._record(("qemu_audio", op))
        else:
            raise ProtocolError(f"unknown QEMU client submessage {sub}")

    def _ready(self, conn: _Connection) -> bool:
        """Whether the writer has something to send (lock held)."""
        if conn.outbox:
            return True
        req = conn.request
        if req is None:
            return False
        if self.stream or self.misbehave in _ON_UPDATE or not req.incremental or conn.pending_resize or conn.copies:
            return True
        if conn.cursor_pending:
            return True
        return any(_intersect(d, req.rect) for d in conn.dirty)

    def _write_loop(self, conn: _Connection) -> None:
        """Server-to-client messages: queued ones first, then an update whenever a request can be answered."""
        close = True
        try:
            while True:
                chunks: list[bytes] = []
                parts: list[tuple[bytes, bytes | None]] = []
                stream_frame = False
                misbehaviour: Callable[[FakeRfbServer, _Connection], bool] | None = None
                with self._cond:
                    self._cond.wait_for(lambda: conn.closed or self._stopping.is_set() or self._ready(conn))
                    if conn.closed or self._stopping.is_set():
                        return
                    pf = conn.pf
                    if conn.outbox:
                        chunks = list(conn.outbox)
                        conn.outbox.clear()
                    elif self.misbehave in _ON_UPDATE:
                        conn.request = None
                        misbehaviour = _MISBEHAVE_ON_UPDATE[self.misbehave]
                    elif self.stream:
                        conn.request = None
                        stream_frame = True
                    else:
                        parts = self._take_update(conn)
                if misbehaviour is not None:
                    close = misbehaviour(self, conn)
                    return
                if stream_frame:
                    chunks.append(self._stream_frame(conn))
                for header, rgb in parts:
                    chunks.append(header)
                    if rgb is not None:
                        chunks.append(convert_rgb(rgb, pf))
                for chunk in chunks:
                    conn.sock.sendall(chunk)
                if stream_frame:
                    with self._cond:
                        self._frames_sent += 1
        except OSError as e:
            log.debug("fake RFB server: writer ended: %s", e)
        finally:
            if close:
                conn.shutdown()
                with self._cond:
                    self._cond.notify_all()

    def _take_update(self, conn: _Connection) -> list[tuple[bytes, bytes | None]]:
        """Consume the pending request (lock held): (message bytes, RGB pixels to convert after it) pairs."""
        req = conn.request
        assert req is not None
        conn.request = None
        if conn.pending_resize:
            conn.pending_resize = False
            conn.fb_w, conn.fb_h = self._width, self._height
            conn.dirty = [(0, 0, self._width, self._height)]
            return [(_update_header(1) + _rect_header(0, 0, self._width, self._height, ENC_DESKTOP_SIZE), None)]
        bound = (0, 0, min(conn.fb_w, self._width), min(conn.fb_h, self._height))
        region = _intersect(req.rect, bound)
        if req.incremental:
            rects = [r for r in (_intersect(d, region) for d in conn.dirty) if r is not None] if region else []
        else:
            rects = [region] if region else []
        if region is not None:
            conn.dirty = _subtract(conn.dirty, region)
        copies, conn.copies = conn.copies, []
        cursor = self._take_cursor(conn)
        count = len(copies) + len(rects) + (1 if cursor else 0)
        out: list[tuple[bytes, bytes | None]] = [(_update_header(count), None)]
        out += cursor
        for sx, sy, x, y, w, h in copies:
            out.append((_rect_header(x, y, w, h, ENC_COPYRECT) + struct.pack(">HH", sx, sy), None))
        for x, y, w, h in rects:
            rgb = b"".join(
                self._fb[((y + r) * self._width + x) * 3 : ((y + r) * self._width + x + w) * 3] for r in range(h)
            )
            out.append((_rect_header(x, y, w, h, ENC_RAW), rgb))
        return out

    def _take_cursor(self, conn: _Connection) -> list[tuple[bytes, bytes | None]]:
        """The pending Cursor pseudo-rectangle (lock held): [(header, R,G,B pixels), (mask, None)], or []."""
        if not conn.cursor_pending or self._cursor is None:
            return []
        conn.cursor_pending = False
        width, height, hot_x, hot_y, rgba = self._cursor
        header = _rect_header(hot_x, hot_y, width, height, ENC_RICH_CURSOR)
        if not width:
            return [(header, None)]
        rgb = bytearray(width * height * 3)
        rgb[0::3], rgb[1::3], rgb[2::3] = rgba[0::4], rgba[1::4], rgba[2::4]
        return [(header, bytes(rgb)), (cursor_mask(rgba[3::4], width, height), None)]

    def _stream_frame(self, conn: _Connection) -> bytes:
        """The next full frame as a FramebufferUpdate in the client's format (converted once per format)."""
        pf = conn.pf
        frames = self._converted_frames.get(pf)
        if frames is None:
            frames = []
            for f in self._frames:
                rgb = bytearray(len(f) // 4 * 3)
                rgb[0::3], rgb[1::3], rgb[2::3] = f[2::4], f[1::4], f[0::4]
                frames.append(convert_rgb(rgb, pf))
            self._converted_frames[pf] = frames
        frame = frames[conn.frame_index % len(frames)]
        conn.frame_index += 1
        return _update_header(1) + _rect_header(0, 0, self._width, self._height, ENC_RAW) + frame


def _check_size(width: int, height: int) -> None:
    if not (1 <= width <= 65535 and 1 <= height <= 65535):
        raise ValueError(f"framebuffer size {width}x{height} is outside 1..65535")


# --- misbehaviours: each produces its hostile bytes; the client must report an error ----------------


def _drain(conn: _Connection) -> None:
    """Read and drop whatever the client sends until it closes (or the server stops)."""
    while conn.sock.recv(4096):
        pass


def _misbehave_bad_version(conn: _Connection) -> None:
    """A ProtocolVersion no client knows, then wait for the client to give up."""
    log.info("fake RFB server: misbehaving: sending a garbage protocol version")
    conn.sock.sendall(b"RFB 999.999\n")
    _drain(conn)


def _misbehave_huge_rect(server: FakeRfbServer, conn: _Connection) -> bool:
    """A Raw rectangle of 60000x60000 at 0,0 (bigger than the framebuffer), then pixel data until the socket closes."""
    log.info("fake RFB server: misbehaving: sending a 60000x60000 Raw rectangle")
    conn.sock.sendall(_update_header(1) + _rect_header(0, 0, 60000, 60000, ENC_RAW))
    chunk = b"\x80" * 65536
    left = 60000 * 60000 * conn.pf.bytes_per_pixel
    while left > 0 and not conn.closed:
        conn.sock.sendall(chunk[: min(left, len(chunk))])
        left -= len(chunk)
    return True


def _misbehave_truncated(server: FakeRfbServer, conn: _Connection) -> bool:
    """An update announcing one full-frame Raw rectangle, then half its pixel data, then close."""
    log.info("fake RFB server: misbehaving: truncating a Raw rectangle")
    w, h = conn.fb_w, conn.fb_h
    conn.sock.sendall(_update_header(1) + _rect_header(0, 0, w, h, ENC_RAW))
    conn.sock.sendall(b"\x40" * max(1, w * h * conn.pf.bytes_per_pixel // 2))
    return True


def _misbehave_huge_cut_text(server: FakeRfbServer, conn: _Connection) -> bool:
    """ServerCutText announcing 2**31-1 bytes, then 1 KiB of it, then close."""
    log.info("fake RFB server: misbehaving: announcing 2**31-1 bytes of cut text")
    conn.sock.sendall(struct.pack(">BxxxI", 3, 2**31 - 1) + b"A" * 1024)
    return True


def _misbehave_bad_encoding(server: FakeRfbServer, conn: _Connection) -> bool:
    """A rectangle with encoding 0x7fff0000, which no one defines; then keep the connection open."""
    log.info("fake RFB server: misbehaving: sending a rectangle with encoding 0x7fff0000")
    conn.sock.sendall(_update_header(1) + _rect_header(0, 0, 1, 1, 0x7FFF0000) + b"\0" * 16)
    return False


_MISBEHAVE_ON_UPDATE: Final[dict[str, Callable[[FakeRfbServer, _Connection], bool]]] = {
    "huge-rect": _misbehave_huge_rect,
    "truncated": _misbehave_truncated,
    "huge-cut-text": _misbehave_huge_cut_text,
    "bad-encoding": _misbehave_bad_encoding,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run a server until killed, printing its port on the first line."""
    parser = argparse.ArgumentParser(prog="python -m tests.console.fake_rfb", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--name", default="fake")
    parser.add_argument("--auth", choices=sorted(AUTHS), default="none")
    parser.add_argument("--password", default="")
    parser.add_argument("--tls-cert", type=Path, help="server certificate (PEM) for the vencrypt-* auths")
    parser.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    parser.add_argument("--misbehave", choices=sorted(MISBEHAVIOURS))
    parser.add_argument("--stream", action="store_true", help="a new full frame for every update request")
    parser.add_argument("--frames", type=int, default=30, help="frames precomputed for --stream")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    server = FakeRfbServer(
        args.width,
        args.height,
        name=args.name,
        auth=args.auth,
        password=args.password,
        misbehave=args.misbehave,
        stream=args.stream,
        stream_frames=args.frames,
        host=args.host,
        port=args.port,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )
    if not args.stream:
        server.fill((38, 110, 140))
        server.fill_rect(args.width // 8, args.height // 8, args.width // 2, args.height // 2, (250, 250, 250))
        server.fill_rect(args.width // 8, args.height // 8, args.width // 2, max(1, args.height // 36), (60, 90, 200))
    server.start()
    print(server.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        if args.stream:
            log.info("fake RFB server: %d frames sent", server.frames_sent)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
