"""The fake RFB server, checked with a minimal raw-socket RFB client written here from RFC 6143."""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.fake_rfb import (
    ENC_COPYRECT,
    ENC_DESKTOP_SIZE,
    ENC_QEMU_EXT_KEY,
    ENC_RAW,
    MISBEHAVIOURS,
    FakeRfbServer,
    PixelFormat,
    convert_rgb,
    make_stream_frames,
    vnc_auth_response,
)

Rect = tuple[int, int, int, int, int, bytes]  # x, y, w, h, encoding, payload


class RawClient:
    """Just enough of an RFB 3.8 client to drive the server byte by byte."""

    def __init__(self, port: int, timeout: float = 2.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.pf = PixelFormat()
        self.width = self.height = 0
        self.name = b""

    def close(self) -> None:
        self.sock.close()

    def recv(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError(f"server closed after {len(buf)} of {n} bytes")
            buf += chunk
        return bytes(buf)

    def closed_by_server(self, timeout: float = 1.0) -> bool:
        """Read until EOF; True when the server closed within the timeout."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
        except TimeoutError:
            return False
        except ConnectionError:
            return True
        return True

    def security(self, password: str | None = None) -> tuple[int, bytes]:
        """Version and security; returns (SecurityResult, reason)."""
        assert self.recv(12) == b"RFB 003.008\n"
        self.sock.sendall(b"RFB 003.008\n")
        (count,) = self.recv(1)
        types = list(self.recv(count))
        wanted = 1 if password is None else 2
        assert types == [wanted]
        self.sock.sendall(bytes([wanted]))
        if wanted == 2:
            assert password is not None
            challenge = self.recv(16)
            self.sock.sendall(vnc_auth_response(password, challenge))
        (result,) = struct.unpack(">I", self.recv(4))
        reason = b""
        if result:
            (length,) = struct.unpack(">I", self.recv(4))
            reason = self.recv(length)
        return result, reason

    def init(self) -> None:
        """ClientInit and ServerInit."""
        self.sock.sendall(b"\x01")
        self.width, self.height = struct.unpack(">HH", self.recv(4))
        self.pf = PixelFormat.unpack(self.recv(16))
        (length,) = struct.unpack(">I", self.recv(4))
        self.name = self.recv(length)

    def handshake(self, password: str | None = None) -> None:
        assert self.security(password) == (0, b"")
        self.init()

    def set_pixel_format(self, pf: PixelFormat) -> None:
        self.sock.sendall(b"\x00\x00\x00\x00" + pf.pack())
        self.pf = pf

    def set_encodings(self, encodings: list[int]) -> None:
        self.sock.sendall(struct.pack(f">BxH{len(encodings)}i", 2, len(encodings), *encodings))

    def request(self, incremental: bool, x: int = 0, y: int = 0, w: int = 0, h: int = 0) -> None:
        w, h = w or self.width, h or self.height
        self.sock.sendall(struct.pack(">BBHHHH", 3, int(incremental), x, y, w, h))

    def read_update(self) -> list[Rect]:
        kind, count = struct.unpack(">BxH", self.recv(4))
        assert kind == 0, f"expected FramebufferUpdate, got message type {kind}"
        rects: list[Rect] = []
        for _ in range(count):
            x, y, w, h, enc = struct.unpack(">HHHHi", self.recv(12))
            if enc == ENC_RAW:
                payload = self.recv(w * h * self.pf.bytes_per_pixel)
            elif enc == ENC_COPYRECT:
                payload = self.recv(4)
            else:
                payload = b""
            if enc == ENC_DESKTOP_SIZE:
                self.width, self.height = w, h
            rects.append((x, y, w, h, enc, payload))
        return rects

    def nothing_pending(self, wait: float = 0.1) -> bool:
        self.sock.settimeout(wait)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(2.0)
        return False


@pytest.fixture
def server() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(32, 24, name="tiny") as srv:
        yield srv


@pytest.fixture
def client(server: FakeRfbServer) -> Iterator[RawClient]:
    c = RawClient(server.port)
    c.handshake()
    yield c
    c.close()


def bgrx(rgb: tuple[int, int, int]) -> bytes:
    return bytes((rgb[2], rgb[1], rgb[0], 0))


def test_handshake_announces_size_format_and_name(server: FakeRfbServer, client: RawClient) -> None:
    assert (client.width, client.height, client.name) == (32, 24, b"tiny")
    assert client.pf == PixelFormat(32, 24, False, True, 255, 255, 255, 16, 8, 0)
    assert server.wait_for(lambda e: e[0] == "client_init") == ("client_init", True)
    assert server.find(lambda e: e == ("auth", True)) is not None


def test_full_update_returns_the_filled_pixels(server: FakeRfbServer, client: RawClient) -> None:
    server.fill((10, 20, 30))
    server.fill_rect(4, 2, 3, 2, (200, 100, 50))
    client.request(False)
    [(x, y, w, h, enc, data)] = client.read_update()
    assert (x, y, w, h, enc) == (0, 0, 32, 24, ENC_RAW)
    expected = bytearray(bgrx((10, 20, 30)) * (32 * 24))
    for yy in (2, 3):
        for xx in (4, 5, 6):
            i = (yy * 32 + xx) * 4
            expected[i : i + 4] = bgrx((200, 100, 50))
    assert data == bytes(expected)
    assert server.wait_for(lambda e: e[0] == "update_request") == ("update_request", False, 0, 0, 32, 24)


def test_incremental_request_waits_for_a_change_and_sends_only_it(server: FakeRfbServer, client: RawClient) -> None:
    client.request(False)
    client.read_update()
    client.request(True)
    assert client.nothing_pending(0.05)
    server.fill_rect(30, 20, 5, 5, (1, 2, 3))  # clipped to 2x4
    [(x, y, w, h, enc, data)] = client.read_update()
    assert (x, y, w, h, enc) == (30, 20, 2, 4, ENC_RAW)
    assert data == bgrx((1, 2, 3)) * 8


def test_big_endian_32bpp_and_16bpp_formats(server: FakeRfbServer, client: RawClient) -> None:
    server.fill((0x12, 0x34, 0x56))
    be = PixelFormat(32, 24, True, True, 255, 255, 255, 0, 8, 16)  # red in the low byte, sent big-endian
    client.set_pixel_format(be)
    client.request(False, 0, 0, 1, 1)
    [(*_, data)] = client.read_update()
    assert data == bytes((0x00, 0x56, 0x34, 0x12))
    rgb565 = PixelFormat(16, 16, False, True, 31, 63, 31, 11, 5, 0)
    client.set_pixel_format(rgb565)
    client.request(False, 0, 0, 2, 1)
    [(*_, data)] = client.read_update()
    value = (round(0x12 * 31 / 255) << 11) | (round(0x34 * 63 / 255) << 5) | round(0x56 * 31 / 255)
    assert data == struct.pack("<HH", value, value)
    event = server.wait_for(lambda e: e[0] == "set_pixel_format" and e[1]["bpp"] == 16)
    assert event[1]["red_shift"] == 11 and event[1]["big_endian"] is False


def test_convert_rgb_by_hand() -> None:
    rgb = bytes(range(256)) * 3
    pixels = list(zip(rgb[0::3], rgb[1::3], rgb[2::3], strict=True))
    fast = convert_rgb(rgb, PixelFormat(32, 24, True, True, 255, 255, 255, 8, 16, 24))  # byte-slicing path
    assert fast == b"".join(struct.pack(">I", r << 8 | g << 16 | b << 24) for r, g, b in pixels)
    generic = convert_rgb(rgb, PixelFormat(32, 30, False, True, 1023, 1023, 1023, 20, 10, 0))  # per-pixel path
    scale = [round(v * 1023 / 255) for v in range(256)]
    assert generic == b"".join(struct.pack("<I", scale[r] << 20 | scale[g] << 10 | scale[b]) for r, g, b in pixels)


def test_colour_map_format_closes_the_connection(server: FakeRfbServer, client: RawClient) -> None:
    client.set_pixel_format(PixelFormat(8, 8, False, False, 0, 0, 0, 0, 0, 0))
    assert client.closed_by_server()


def test_vnc_auth_success_and_failure() -> None:
    with FakeRfbServer(8, 8, auth="vnc", password="sesame-long-password") as srv:
        good = RawClient(srv.port)
        good.handshake(password="sesame-l")  # only the first 8 bytes count
        assert (good.width, good.height) == (8, 8)
        good.close()
        bad = RawClient(srv.port)
        assert bad.security(password="wrong") == (1, b"Authentication failed")
        assert bad.closed_by_server()
        bad.close()
        srv.wait_for(lambda e: e == ("auth", False))


def test_vnc_auth_response_mirrors_key_bits() -> None:
    # Checked against gtk-vnc, which logged in to this server with it; the all-zero key is bit-mirror invariant.
    challenge = bytes(range(16))
    assert vnc_auth_response("", challenge) == vnc_auth_response("\0" * 8, challenge)
    from Crypto.Cipher import DES

    mirrored = bytes([0x80, 0, 0, 0, 0, 0, 0, 0])
    assert vnc_auth_response("\x01", challenge) == DES.new(mirrored, DES.MODE_ECB).encrypt(challenge)


def test_resize_sends_desktop_size_then_the_whole_new_framebuffer(server: FakeRfbServer, client: RawClient) -> None:
    client.set_encodings([ENC_RAW, ENC_DESKTOP_SIZE])
    client.request(False)
    client.read_update()
    client.request(True)
    server.resize(40, 10)
    assert client.read_update() == [(0, 0, 40, 10, ENC_DESKTOP_SIZE, b"")]
    client.request(True)
    [(x, y, w, h, enc, data)] = client.read_update()
    assert (x, y, w, h, enc, len(data)) == (0, 0, 40, 10, ENC_RAW, 40 * 10 * 4)


def test_ext_key_event_is_acknowledged_and_recorded(server: FakeRfbServer, client: RawClient) -> None:
    client.set_encodings([ENC_RAW, ENC_QEMU_EXT_KEY])
    assert client.read_update() == [(0, 0, 32, 24, ENC_QEMU_EXT_KEY, b"")]
    client.sock.sendall(struct.pack(">BBHII", 255, 0, 1, 0x61, 30))
    client.sock.sendall(struct.pack(">BBxxI", 4, 0, 0xFF0D))
    client.sock.sendall(struct.pack(">BBHH", 5, 1, 7, 9))
    client.sock.sendall(struct.pack(">BxxxI", 6, 5) + b"hello")
    assert server.wait_for(lambda e: e[0] == "cut_text") == ("cut_text", b"hello")
    events = server.events
    assert ("set_encodings", [ENC_RAW, ENC_QEMU_EXT_KEY]) in events
    assert ("qemu_key", True, 0x61, 30) in events
    assert ("key", False, 0xFF0D) in events
    assert ("pointer", 1, 7, 9) in events


def test_copy_rect_is_sent_as_copyrect(server: FakeRfbServer, client: RawClient) -> None:
    client.set_encodings([ENC_COPYRECT, ENC_RAW])
    server.fill_rect(0, 0, 4, 4, (255, 0, 0))
    client.request(False)
    client.read_update()
    server.copy_rect(0, 0, 10, 10, 4, 4)
    client.request(True)
    assert client.read_update() == [(10, 10, 4, 4, ENC_COPYRECT, struct.pack(">HH", 0, 0))]
    assert server.get_rgb(12, 12) == (255, 0, 0)


def test_reconnect_after_disconnect(server: FakeRfbServer) -> None:
    for _ in range(2):
        c = RawClient(server.port)
        c.handshake()
        c.request(False)
        assert len(c.read_update()[0][5]) == 32 * 24 * 4
        c.close()
    server.wait_for(lambda e: e == ("disconnected",))


def test_stream_sends_changing_full_frames() -> None:
    with FakeRfbServer(64, 48, stream=True, stream_frames=3) as srv:
        c = RawClient(srv.port)
        c.handshake()
        frames = []
        for i in range(4):
            c.request(i > 0)
            [(x, y, w, h, enc, data)] = c.read_update()
            assert (x, y, w, h, enc) == (0, 0, 64, 48, ENC_RAW)
            frames.append(data)
        assert frames[0] != frames[1] and frames[0] == frames[3]
        assert frames[0] == make_stream_frames(64, 48, 3)[0]
        deadline = time.monotonic() + 1
        while srv.frames_sent < 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert srv.frames_sent == 4
        c.close()


def test_stop_closes_clients_quickly(server: FakeRfbServer, client: RawClient) -> None:
    client.request(True)
    client.request(False)
    client.read_update()
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1.0
    assert client.closed_by_server()


def _first_update_bytes(srv: FakeRfbServer, n: int) -> tuple[RawClient, bytes]:
    c = RawClient(srv.port)
    c.handshake()
    c.request(False)
    return c, c.recv(n)


@pytest.mark.parametrize("misbehave", sorted(MISBEHAVIOURS))
def test_misbehaviours_produce_their_bytes(misbehave: str) -> None:
    with FakeRfbServer(16, 8, misbehave=misbehave, slow_seconds=0.2) as srv:
        if misbehave == "bad-version":
            c = RawClient(srv.port)
            assert c.recv(12) == b"RFB 999.999\n"
            assert not c.closed_by_server(0.05)  # it waits for the client to give up
        elif misbehave == "slow-handshake":
            c = RawClient(srv.port)
            assert c.nothing_pending(0.1)
            c.handshake()
        elif misbehave == "huge-desktop":
            c = RawClient(srv.port)
            c.handshake()
            assert (c.width, c.height) == (65535, 65535)
        elif misbehave == "close-after-init":
            c = RawClient(srv.port)
            c.handshake()
            assert c.closed_by_server()
        elif misbehave == "huge-rect":
            c, head = _first_update_bytes(srv, 16 + 65536)
            assert head[:16] == struct.pack(">BxHHHHHi", 0, 1, 0, 0, 60000, 60000, ENC_RAW)
        elif misbehave == "truncated":
            c, head = _first_update_bytes(srv, 16)
            assert head == struct.pack(">BxHHHHHi", 0, 1, 0, 0, 16, 8, ENC_RAW)
            with pytest.raises(ConnectionError):
                c.recv(16 * 8 * 4)
        elif misbehave == "huge-cut-text":
            c, head = _first_update_bytes(srv, 8 + 1024)
            assert head[:8] == struct.pack(">BxxxI", 3, 2**31 - 1)
            assert c.closed_by_server()
        elif misbehave == "bad-encoding":
            c, head = _first_update_bytes(srv, 16)
            assert head == struct.pack(">BxHHHHHi", 0, 1, 0, 0, 1, 1, 0x7FFF0000)
        c.close()


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="misbehaviour"):
        FakeRfbServer(misbehave="nope")
    with pytest.raises(ValueError, match="auth"):
        FakeRfbServer(auth="sasl")


def test_runs_standalone_and_prints_its_port() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.console.fake_rfb", "--port", "0", "--width", "64", "--height", "32"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        c = RawClient(port)
        c.handshake()
        assert (c.width, c.height, c.name) == (64, 32, b"fake")
        c.close()
    finally:
        proc.terminate()
        proc.wait(5)
