"""VncSession (GVnc through PyGObject) against the fake RFB server: handshake, auth, pixels, input, hostile servers.

GVnc runs on the GLib main context that Qt's event dispatcher iterates, so every wait spins Qt's loop
(tests.helpers.wait_until) and the server is only ever polled with the non-blocking `find`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import resource
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtWidgets import QApplication

from tests.console.fake_rfb import RGB, Event, FakeRfbServer
from tests.helpers import wait_until
from vmgui.console.framebuffer import Framebuffer
from vmgui.console.graphics import Endpoint
from vmgui.console.state import CLOSED, ConsoleState, ConsoleStatus
from vmgui.console.vnc_session import VncSession

BACKGROUND: RGB = (10, 120, 200)
WINDOW: RGB = (250, 250, 250)
PATCH: RGB = (200, 30, 40)


def endpoint(srv: FakeRfbServer, password: str = "") -> Endpoint:
    return Endpoint("tcp", host="127.0.0.1", port=srv.port, password=password)


def pixel(fb: Framebuffer, x: int, y: int) -> RGB:
    """The colour at x, y of a 32-bit little-endian 0x00RRGGBB framebuffer (bytes B, G, R, X)."""
    i = y * fb.stride + x * 4
    b, g, r, _ = fb.view()[i : i + 4]
    return (r, g, b)


class Recorder:
    """Everything a session reports, in order."""

    def __init__(self, session: VncSession) -> None:
        self.statuses: list[ConsoleStatus] = []
        self.resizes: list[Framebuffer | None] = []  # None: no screen now
        self.updates: list[tuple[int, int, int, int]] = []
        session.status_changed.connect(self.statuses.append)
        session.resized.connect(self.resizes.append)
        session.frame_updated.connect(lambda x, y, w, h: self.updates.append((x, y, w, h)))

    @property
    def states(self) -> list[ConsoleState]:
        return [s.state for s in self.statuses]


@pytest.fixture
def new_session(qapp: QApplication) -> Iterator[Callable[..., VncSession]]:
    """Make sessions; each is closed afterwards, and must let go of every GVnc connection it closed."""
    made: list[VncSession] = []

    def make(**kwargs: float) -> VncSession:
        made.append(VncSession(**kwargs))
        return made[-1]

    yield make
    for s in made:
        s.close()
    wait_until(lambda: not any(s._retired for s in made), timeout=2, what="GVnc to let go of closed connections")


@pytest.fixture
def session(new_session: Callable[..., VncSession]) -> VncSession:
    return new_session()


@pytest.fixture
def server() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(320, 200, name="desk") as srv:
        srv.fill(BACKGROUND)
        srv.fill_rect(40, 30, 100, 50, WINDOW)
        yield srv


def wait_connected(session: VncSession, what: str = "CONNECTED") -> None:
    wait_until(lambda: session.status.state is not ConsoleState.CONNECTING, timeout=2, what=what)
    assert session.status.state is ConsoleState.CONNECTED, session.status


def wait_pixels(session: VncSession, expected: dict[tuple[int, int], RGB], what: str) -> None:
    def ok() -> bool:
        fb = session.framebuffer
        return fb is not None and all(pixel(fb, x, y) == rgb for (x, y), rgb in expected.items())

    wait_until(ok, timeout=2, what=what)


def wait_event(srv: FakeRfbServer, predicate: Callable[[Event], bool], what: str) -> Event:
    """Poll the server's events (never its blocking wait_for: the client needs this thread's loop)."""
    found: list[Event] = []

    def seen() -> bool:
        e = srv.find(predicate)
        if e is not None:
            found.append(e)
        return e is not None

    wait_until(seen, timeout=2, what=what)
    return found[0]


# ---- connecting and pixels ---------------------------------------------------------------------------------


def test_none_auth_connects_and_shows_the_servers_pixels(session: VncSession, server: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(server))
    assert session.status.state is ConsoleState.CONNECTING
    assert f"127.0.0.1:{server.port}" in session.status.message
    wait_connected(session)
    assert rec.states == [ConsoleState.CONNECTING, ConsoleState.CONNECTED]
    assert session.name == "desk"
    assert len(rec.resizes) == 1
    fb = rec.resizes[0]
    assert fb is not None
    assert (fb.width, fb.height, fb.stride) == (320, 200, 320 * 4)
    assert session.framebuffer is fb
    assert len(fb.view()) == 320 * 200 * 4

    first = {(0, 0): BACKGROUND, (319, 199): BACKGROUND, (40, 30): WINDOW, (139, 79): WINDOW, (140, 80): BACKGROUND}
    wait_pixels(session, first, "the first frame")
    # GVnc writes the pixels, then reports the rectangle from an idle callback: wait for that too.
    wait_until(lambda: (0, 0, 320, 200) in rec.updates, timeout=2, what="the first frame's update")
    assert session.frames == len(rec.updates)
    assert bytes(fb.view()[:4]) == bytes((200, 120, 10, 0))  # B, G, R, X

    # An incremental update: only the patch changes.
    before = len(rec.updates)
    server.fill_rect(200, 100, 30, 20, PATCH)
    changed = {**first, (200, 100): PATCH, (229, 119): PATCH, (215, 110): PATCH, (230, 120): BACKGROUND,
               (199, 99): BACKGROUND}
    wait_pixels(session, changed, "the patch")
    wait_until(lambda: (200, 100, 30, 20) in rec.updates[before:], timeout=2, what="the patch's update")
    assert session.framebuffer is fb  # same memory, no resize
    assert len(rec.resizes) == 1
    requests = [e for e in server.events if e[0] == "update_request"]
    assert requests[0] == ("update_request", False, 0, 0, 320, 200)
    assert any(e[1] is True for e in requests[1:])


def test_the_client_asks_for_its_own_pixel_format_and_encodings(session: VncSession, server: FakeRfbServer) -> None:
    session.open(endpoint(server))
    wait_connected(session)
    fmt = wait_event(server, lambda e: e[0] == "set_pixel_format", "SetPixelFormat")
    assert fmt[1] == {"bpp": 32, "depth": 24, "big_endian": sys.byteorder == "big", "true_colour": True,
                      "red_max": 255, "green_max": 255, "blue_max": 255,
                      "red_shift": 16, "green_shift": 8, "blue_shift": 0}
    encodings = wait_event(server, lambda e: e[0] == "set_encodings", "SetEncodings")[1]
    assert -258 in encodings and -223 in encodings and 0 in encodings  # QEMU keys, DesktopSize, Raw


def test_desktop_resize_replaces_the_framebuffer(session: VncSession, server: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(server))
    wait_connected(session)
    wait_pixels(session, {(40, 30): WINDOW}, "the first frame")
    old = session.framebuffer
    server.resize(800, 600)  # the old content stays at the top left, the rest is black
    wait_until(lambda: len(rec.resizes) == 2, timeout=2, what="the resize")
    fb = rec.resizes[1]
    assert fb is not None
    assert (fb.width, fb.height, fb.stride) == (800, 600, 800 * 4)
    assert session.framebuffer is fb and fb is not old
    wait_pixels(session, {(0, 0): BACKGROUND, (40, 30): WINDOW, (319, 199): BACKGROUND, (320, 0): (0, 0, 0),
                          (799, 599): (0, 0, 0), (0, 200): (0, 0, 0)}, "the resized frame")
    server.fill_rect(700, 500, 10, 10, PATCH)
    wait_pixels(session, {(705, 505): PATCH, (699, 499): (0, 0, 0)}, "a patch in the new area")
    assert session.status.state is ConsoleState.CONNECTED


# ---- authentication ---------------------------------------------------------------------------------------


@pytest.fixture
def locked() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(64, 48, name="locked", auth="vnc", password="s3cret") as srv:
        srv.fill(BACKGROUND)
        yield srv


def test_vnc_auth_with_the_right_password(session: VncSession, locked: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(locked, "s3cret"))
    wait_connected(session)
    assert rec.states == [ConsoleState.CONNECTING, ConsoleState.CONNECTED]
    assert locked.find(lambda e: e == ("auth", True)) is not None
    wait_pixels(session, {(0, 0): BACKGROUND, (63, 47): BACKGROUND}, "pixels")
    assert session.name == "locked"


def test_vnc_auth_with_a_wrong_password_asks_again(session: VncSession, locked: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(locked, "wrong"))
    wait_until(lambda: session.status.state is ConsoleState.AUTH_NEEDED, timeout=2, what="AUTH_NEEDED")
    assert "authentication" in session.status.message.lower()
    assert session.framebuffer is None
    assert locked.find(lambda e: e == ("auth", False)) is not None
    assert ConsoleState.CONNECTED not in rec.states

    session.set_password("s3cret")
    wait_connected(session)
    wait_pixels(session, {(10, 10): BACKGROUND}, "pixels after the password")
    assert rec.states == [ConsoleState.CONNECTING, ConsoleState.AUTH_NEEDED, ConsoleState.DISCONNECTED,
                          ConsoleState.CONNECTING, ConsoleState.CONNECTED]
    assert rec.statuses[2] == CLOSED  # the reconnect closes first
    assert [e for e in locked.events if e[0] == "auth"] == [("auth", False), ("auth", True)]


def test_no_password_asks_for_one(session: VncSession, locked: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(locked))
    wait_until(lambda: session.status.state is ConsoleState.AUTH_NEEDED, timeout=2, what="AUTH_NEEDED")
    assert "asks for a password" in session.status.message
    session.set_password("s3cret")
    wait_connected(session)
    assert rec.states == [ConsoleState.CONNECTING, ConsoleState.AUTH_NEEDED, ConsoleState.CONNECTING,
                          ConsoleState.CONNECTED]
    wait_pixels(session, {(10, 10): BACKGROUND}, "pixels after the password")


def test_a_wrong_answer_at_the_prompt_asks_again(session: VncSession, locked: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(locked))
    wait_until(lambda: session.status.state is ConsoleState.AUTH_NEEDED, timeout=2, what="the prompt")
    session.set_password("nope")  # answers the running handshake
    assert session.status == ConsoleStatus(ConsoleState.CONNECTING, "checking the password")
    wait_until(lambda: session.status.state is ConsoleState.AUTH_NEEDED, timeout=2, what="the second prompt")
    assert "authentication failed" in session.status.message
    assert session.framebuffer is None
    session.set_password("s3cret")  # the server closed that connection: a new one
    wait_connected(session)
    # Reconnecting goes through close(), so a CLOSED status shows for a moment before the new CONNECTING.
    assert rec.states == [ConsoleState.CONNECTING, ConsoleState.AUTH_NEEDED, ConsoleState.CONNECTING,
                          ConsoleState.AUTH_NEEDED, ConsoleState.DISCONNECTED, ConsoleState.CONNECTING,
                          ConsoleState.CONNECTED]
    assert rec.statuses[4] == CLOSED
    assert [e for e in locked.events if e[0] == "auth"] == [("auth", False), ("auth", True)]


# ---- input ------------------------------------------------------------------------------------------------


def test_keys_use_the_qemu_extended_key_event(session: VncSession, server: FakeRfbServer) -> None:
    session.open(endpoint(server))
    wait_connected(session)
    wait_until(lambda: session.frames > 0, timeout=2, what="a frame")  # the server acknowledged -258 by then
    session.send_key(True, 0x61, 0x1E)
    session.send_key(False, 0x61, 0x1E)
    wait_event(server, lambda e: e == ("qemu_key", False, 0x61, 0x1E), "the key release")
    keys = [e for e in server.events if e[0] in ("key", "qemu_key")]
    assert keys == [("qemu_key", True, 0x61, 0x1E), ("qemu_key", False, 0x61, 0x1E)]


def test_a_key_sent_before_the_server_acknowledges_qemu_keys_is_a_plain_key_event(
        session: VncSession, server: FakeRfbServer) -> None:
    """From the CONNECTED callback the server has not yet acknowledged -258: GVnc falls back to the RFB KeyEvent,
    which carries the keysym only (the scancode is lost)."""
    session.status_changed.connect(
        lambda st: session.send_key(True, 0x61, 0x1E) if st.state is ConsoleState.CONNECTED else None)
    session.open(endpoint(server))
    wait_event(server, lambda e: e[0] in ("key", "qemu_key"), "the key")
    wait_until(lambda: session.frames > 0, timeout=2, what="a frame")
    session.send_key(False, 0x61, 0x1E)
    wait_event(server, lambda e: e[0] == "qemu_key", "the key release")
    assert [e for e in server.events if e[0] in ("key", "qemu_key")] == [
        ("key", True, 0x61), ("qemu_key", False, 0x61, 0x1E)]


def test_pointer_events_are_clamped_to_the_framebuffer(session: VncSession, server: FakeRfbServer) -> None:
    session.open(endpoint(server))
    wait_connected(session)
    session.send_pointer(1, 10, 20)
    session.send_pointer(0, 5000, -7)
    session.send_pointer(4, -3, 900)
    wait_event(server, lambda e: e[0] == "pointer" and e[1] == 4, "the last pointer event")
    assert [e for e in server.events if e[0] == "pointer"] == [
        ("pointer", 1, 10, 20), ("pointer", 0, 319, 0), ("pointer", 4, 0, 199)]


def test_input_before_connected_is_dropped(session: VncSession, server: FakeRfbServer) -> None:
    session.send_key(True, 0x61, 0x1E)  # never opened
    session.send_pointer(1, 1, 1)
    session.send_cut_text("x")
    session.open(endpoint(server))
    assert session.status.state is ConsoleState.CONNECTING
    session.send_key(True, 0x62, 0x30)
    session.send_pointer(1, 2, 2)
    session.send_cut_text("early")
    wait_connected(session)
    session.send_pointer(2, 3, 3)
    wait_event(server, lambda e: e[0] == "pointer", "the pointer sent once connected")
    assert [e for e in server.events if e[0] in ("key", "qemu_key", "pointer", "cut_text")] == [("pointer", 2, 3, 3)]


def test_cut_text_reaches_the_server_as_latin1(session: VncSession, server: FakeRfbServer) -> None:
    session.open(endpoint(server))
    wait_connected(session)
    session.send_cut_text("café €")
    assert wait_event(server, lambda e: e[0] == "cut_text", "cut text") == ("cut_text", "café ?".encode("latin-1"))


# ---- hostile servers and failures -------------------------------------------------------------------------


def rss_now_mb() -> float:
    """Resident memory now (Linux), else the peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return peak_rss_mb()


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 2**20 if sys.platform == "darwin" else kb / 2**10  # bytes on macOS, KiB elsewhere


CLOSED_BY_SERVER = ("Server closed the connection", "Unable to read from server")  # FIN, or RST with data unread
HOSTILE: dict[str, tuple[str, ...]] = {  # misbehaviour -> what the message may say
    "huge-rect": ("Framebuffer update 60000x60000 at 0,0 outside boundary 320x200",),  # GVnc checks the bounds
    "truncated": CLOSED_BY_SERVER,
    "huge-cut-text": ("Cut text length 2147483647 longer than permitted",),
    "huge-desktop": ("the server asked for a 65535x65535 screen, which is out of range",),  # vmgui refuses 16 GiB
    "bad-encoding": ("Received an unknown encoding type",),
    "close-after-init": CLOSED_BY_SERVER,
    "bad-version": ("the console did not answer within 1 s",),  # GVnc takes 'RFB 999.999' for 3.8, then waits
    "slow-handshake": ("the console did not answer within 1 s",),
}


@pytest.mark.parametrize("misbehave", list(HOSTILE))
def test_a_hostile_server_ends_in_disconnected(new_session: Callable[..., VncSession], misbehave: str) -> None:
    rss_before, peak_before = rss_now_mb(), peak_rss_mb()
    session = new_session(handshake_timeout=1.0)
    rec = Recorder(session)
    with FakeRfbServer(320, 200, misbehave=misbehave, slow_seconds=5) as srv:
        srv.fill(BACKGROUND)
        session.open(endpoint(srv))
        took = wait_until(lambda: session.status.state is ConsoleState.DISCONNECTED, timeout=3, what="DISCONNECTED")
        message = session.status.message
        assert any(text in message for text in HOSTILE[misbehave]), message
        assert session.framebuffer is None
        assert session.frames == 0 and rec.updates == []
        assert rec.states[0] is ConsoleState.CONNECTING and rec.states[-1] is ConsoleState.DISCONNECTED
        assert took < (1.5 if misbehave in ("bad-version", "slow-handshake") else 0.9)  # 0.9: not the timeout
        wait_until(lambda: not session._retired, timeout=2, what="GVnc to let go of the connection")
        for _ in range(5):  # nothing more happens with the loop running
            QApplication.processEvents()
        assert session.status.message == message and session.framebuffer is None
    # The peak (ru_maxrss) may already be above today's resident size from earlier tests: check both.
    assert peak_rss_mb() - peak_before < 200, f"peak memory grew with {misbehave}"
    assert rss_now_mb() - rss_before < 200, f"resident memory grew with {misbehave}"


def test_an_unsupported_security_type_is_not_a_password_prompt(session: VncSession) -> None:
    """A server offering only Apple's ARD (30): vmgui says so, and does not ask for a password."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(2)
        got: list[bytes] = []

        def serve() -> None:
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                with conn:
                    conn.settimeout(2)
                    conn.sendall(b"RFB 003.008\n")
                    got.append(conn.recv(12))
                    conn.sendall(bytes((1, 30)))  # one security type: 30, Apple Remote Desktop
                    while conn.recv(64):
                        pass

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        session.open(Endpoint("tcp", host="127.0.0.1", port=listener.getsockname()[1]))
        wait_until(lambda: session.status.state is not ConsoleState.CONNECTING, timeout=2, what="the refusal")
        thread.join(2)
    assert got == [b"RFB 003.008\n"]
    assert session.status == ConsoleStatus(ConsoleState.DISCONNECTED,
                                           "the server wants an authentication vmgui does not support (RFB types [30])",
                                           permanent=True)  # trying again would not help


def test_a_closed_port_is_refused_quickly(session: VncSession) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connecting is refused
        session.open(Endpoint("tcp", host="127.0.0.1", port=port))
        took = wait_until(lambda: session.status.state is ConsoleState.DISCONNECTED, timeout=2, what="DISCONNECTED")
    assert took < 1
    message = session.status.message
    assert f"127.0.0.1:{port}" in message or "refused" in message.lower(), message
    assert session.framebuffer is None


# ---- closing and reopening --------------------------------------------------------------------------------


def test_close_stops_every_callback(session: VncSession, server: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(server))
    wait_connected(session)
    wait_pixels(session, {(40, 30): WINDOW}, "the first frame")
    session.close()
    assert session.status == CLOSED
    assert rec.statuses[-1] == CLOSED
    assert session.framebuffer is None
    n_status, n_updates, n_resizes = len(rec.statuses), len(rec.updates), len(rec.resizes)
    server.fill(PATCH)
    server.resize(100, 100)
    wait_until(lambda: not session._retired and server.client_count == 0, timeout=2, what="the connection to end")
    for _ in range(10):
        QApplication.processEvents()
    assert (len(rec.statuses), len(rec.updates), len(rec.resizes)) == (n_status, n_updates, n_resizes)
    assert session.status == CLOSED
    session.send_key(True, 0x61, 0x1E)  # dropped: no connection
    session.send_pointer(1, 1, 1)
    assert server.find(lambda e: e[0] in ("key", "qemu_key", "pointer")) is None


def test_close_twice_and_before_open_is_harmless(session: VncSession) -> None:
    rec = Recorder(session)
    session.close()
    session.close()
    assert session.status.state is ConsoleState.DISCONNECTED
    assert rec.statuses == []


def test_reopen_on_a_new_server(session: VncSession, server: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(server))
    wait_connected(session)
    wait_until(lambda: session.frames > 0, timeout=2, what="a frame")
    session.close()
    with FakeRfbServer(200, 150, name="second") as other:
        other.fill(PATCH)
        session.open(endpoint(other))
        assert session.frames == 0
        wait_connected(session)
        wait_pixels(session, {(0, 0): PATCH, (199, 149): PATCH}, "the second server's pixels")
        fb = session.framebuffer
        assert fb is not None and (fb.width, fb.height) == (200, 150)
        assert session.name == "second"
        assert rec.states == [ConsoleState.CONNECTING, ConsoleState.CONNECTED, ConsoleState.DISCONNECTED,
                              ConsoleState.CONNECTING, ConsoleState.CONNECTED]
        session.close()


def test_opening_again_while_connected_replaces_the_connection(session: VncSession, server: FakeRfbServer) -> None:
    session.open(endpoint(server))
    wait_connected(session)
    with FakeRfbServer(50, 40, name="next") as other:
        other.fill(WINDOW)
        session.open(endpoint(other))  # closes the first one itself
        wait_connected(session)
        wait_pixels(session, {(49, 39): WINDOW}, "the new server's pixels")
        wait_until(lambda: server.client_count == 0, timeout=2, what="the first connection to close")
        assert session.name == "next"
        session.close()


def test_a_dropped_connection_lets_go_of_its_framebuffer(session: VncSession, server: FakeRfbServer) -> None:
    rec = Recorder(session)
    session.open(endpoint(server))
    wait_connected(session)
    wait_pixels(session, {(40, 30): WINDOW}, "the first frame")
    first = rec.resizes[0]
    assert first is not None
    fb = weakref.ref(first)
    del first
    rec.resizes.clear()
    server.stop()  # the server goes away: no close() from vmgui
    wait_until(lambda: session.status.state is ConsoleState.DISCONNECTED, timeout=2, what="DISCONNECTED")
    assert "closed the connection" in session.status.message
    assert session.framebuffer is None
    wait_until(lambda: gc.collect() >= 0 and fb() is None, timeout=2, what="the framebuffer to be freed")


# ---- other endpoints --------------------------------------------------------------------------------------


def test_a_socket_handed_over_as_a_file_descriptor(session: VncSession, server: FakeRfbServer) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port))
    session.open(Endpoint("fd", fd=sock.detach()))  # GVnc owns the descriptor from here on
    assert session.status == ConsoleStatus(ConsoleState.CONNECTING, "to a socket from libvirt")
    wait_connected(session)
    wait_pixels(session, {(0, 0): BACKGROUND, (40, 30): WINDOW}, "pixels over the fd")
    session.close()
    wait_until(lambda: server.client_count == 0, timeout=2, what="the server to see the close")


class UnixRelay:
    """A unix socket in front of a TCP port, for one client (the fake server listens on TCP only)."""

    def __init__(self, path: str, port: int) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.listener.settimeout(2)
        self.port = port
        self.socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            client, _ = self.listener.accept()
            upstream = socket.create_connection(("127.0.0.1", self.port))
            self.socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        for s in [self.listener, *self.socks]:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_unix_socket(session: VncSession, server: FakeRfbServer, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "vnc.sock")
    relay = UnixRelay(path, server.port)
    try:
        session.open(Endpoint("unix", path=path))
        assert session.status.message == f"to {path}"
        wait_connected(session)
        wait_pixels(session, {(0, 0): BACKGROUND, (139, 79): WINDOW}, "pixels over the unix socket")
        assert session.name == "desk"
    finally:
        session.close()
        relay.close()


def test_a_missing_unix_socket(session: VncSession, tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "absent.sock")
    session.open(Endpoint("unix", path=path))
    wait_until(lambda: session.status.state is ConsoleState.DISCONNECTED, timeout=2, what="DISCONNECTED")
    assert session.status.message and session.framebuffer is None
