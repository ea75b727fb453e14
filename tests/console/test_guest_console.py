"""GuestConsole on libvirt's test driver with a fake VNC server: lookup, errors, and following the guest's state."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.console_host import UUIDS, write_host
from tests.console.fake_rfb import FakeRfbServer
from tests.helpers import run, wait_until
from vmgui.console.any_session import AnySession
from vmgui.console.graphics import Endpoint
from vmgui.console.guest_console import GuestConsole
from vmgui.console.spice_session import SpiceSession
from vmgui.console.state import ConsoleState, ConsoleStatus
from vmgui.console.vnc_session import VncSession
from vmgui.core.connection import Connection
from vmgui.core.lifecycle import Action


@pytest.fixture
def server() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(320, 200, name="desk") as srv:
        srv.fill((10, 120, 200))
        yield srv



def open_console(conn: Connection, name: str) -> tuple[GuestConsole, VncSession, list[ConsoleStatus]]:
    session = VncSession()
    console = GuestConsole(conn, UUIDS[name], session, retry_delays=(0.2, 0.2))
    seen: list[ConsoleStatus] = []
    console.status_changed.connect(seen.append)
    console.open()
    return console, session, seen


def test_connects_to_the_address_in_the_domain_xml(conn: Connection, server: FakeRfbServer) -> None:
    console, session, seen = open_console(conn, "desk")
    wait_until(lambda: session.frames > 0, what="first frame")
    assert console.status.state is ConsoleState.CONNECTED and console.name == "desk"
    assert seen[0].state is ConsoleState.CONNECTING
    fb = session.framebuffer
    assert fb is not None and (fb.width, fb.height) == (320, 200)
    assert bytes(fb.view()[:4]) == bytes((200, 120, 10, 0))  # 0x00RRGGBB little-endian
    console.close()
    assert session.status.state is ConsoleState.DISCONNECTED


def test_a_shut_off_guest_says_so_and_connects_when_it_starts(conn: Connection) -> None:
    console, session, _ = open_console(conn, "off")
    wait_until(lambda: console.status.state is ConsoleState.NOT_RUNNING, what="not running")
    assert "start the guest" in console.status.message
    run(conn.perform(UUIDS["off"], Action.START))
    wait_until(lambda: console.status.state is ConsoleState.CONNECTED and session.frames > 0,
               what="console after start")
    console.close()


def test_stopping_the_guest_closes_the_console_and_starting_reconnects(conn: Connection) -> None:
    console, session, _ = open_console(conn, "desk")
    wait_until(lambda: session.frames > 0, what="first frame")
    run(conn.perform(UUIDS["desk"], Action.FORCE_OFF))
    wait_until(lambda: console.status.state is ConsoleState.NOT_RUNNING, what="not running")
    assert session.framebuffer is None
    run(conn.perform(UUIDS["desk"], Action.START))
    wait_until(lambda: console.status.state is ConsoleState.CONNECTED, what="reconnected")
    wait_until(lambda: session.frames > 0, what="frames again")  # the count restarts with each connection
    console.close()


def test_a_dropped_display_is_retried_while_the_guest_runs(conn: Connection, server: FakeRfbServer) -> None:
    console, session, seen = open_console(conn, "desk")
    wait_until(lambda: session.frames > 0, what="first frame")
    server.stop()  # as when QEMU restarts: the guest still runs, its display went away
    wait_until(lambda: any("trying again" in s.message for s in seen), what="retry notice")
    server.start()  # same port
    wait_until(lambda: console.status.state is ConsoleState.CONNECTED, timeout=10, what="reconnected")
    console.close()


def test_retries_end_with_a_clear_message(conn: Connection, server: FakeRfbServer) -> None:
    server.stop()
    console, _session, seen = open_console(conn, "desk")
    wait_until(lambda: console.status.state is ConsoleState.DISCONNECTED and not console.retrying
               and sum("trying again" in s.message for s in seen) == 2, timeout=10, what="retries used up")
    assert "127.0.0.1" in console.status.message or "refused" in console.status.message.lower()
    console.close()


def test_a_guest_without_a_display_gets_a_reason(conn: Connection) -> None:
    console, _session, _ = open_console(conn, "headless")
    wait_until(lambda: console.status.state is ConsoleState.DISCONNECTED and bool(console.status.message),
               what="error")
    assert "has no graphical display" in console.status.message
    console.close()


def test_a_spice_display_is_opened_with_spice(conn: Connection) -> None:
    session = AnySession()
    console = GuestConsole(conn, UUIDS["spice-only"], session, retry_delays=())
    console.open()
    wait_until(lambda: session.endpoint is not None, what="an attempt")
    endpoint = session.endpoint
    assert endpoint is not None and (endpoint.protocol, endpoint.host, endpoint.port) == ("spice", "127.0.0.1", 5999)
    assert session.protocol == "spice" and isinstance(session.inner, SpiceSession)
    wait_until(lambda: console.status.state is ConsoleState.DISCONNECTED, what="nobody listens there")
    assert "could not connect" in console.status.message
    console.close()


def test_a_plain_vnc_session_refuses_a_spice_endpoint(aloop: asyncio.AbstractEventLoop) -> None:
    session = VncSession()
    session.open(Endpoint("tcp", host="127.0.0.1", port=5999, protocol="spice"))
    assert session.status.state is ConsoleState.DISCONNECTED and session.status.permanent
    assert "is not a VNC display" in session.status.message


def test_an_error_a_retry_cannot_fix_is_not_retried(aloop: asyncio.AbstractEventLoop, tmp_path: Path) -> None:
    with FakeRfbServer(64, 48, misbehave="huge-desktop") as hostile:
        connection = Connection(write_host(tmp_path, hostile.port), stats_interval=0)
        run(connection.connect())
        wait_until(lambda: connection.list_loaded, what="guest list")
        console, _session, seen = open_console(connection, "desk")
        wait_until(lambda: console.status.state is ConsoleState.DISCONNECTED and console.status.permanent,
                   what="a permanent failure")
        assert "65535x65535" in console.status.message and not console.retrying
        assert not any("trying again" in s.message for s in seen)
        console.close()
        run(connection.close())


def test_losing_the_host_connection_does_not_close_a_working_console(conn: Connection, server: FakeRfbServer) -> None:
    console, session, _seen = open_console(conn, "desk")
    wait_until(lambda: session.frames > 0, what="first frame")
    run(conn.disconnect())  # as when libvirtd restarts: the guest and its display go on
    assert console.status.state is ConsoleState.CONNECTED
    frames = session.frames
    server.fill((1, 2, 3))
    wait_until(lambda: session.frames > frames, what="frames while the host connection is down")
    run(conn.connect())
    wait_until(lambda: conn.list_loaded, what="list again")
    assert console.status.state is ConsoleState.CONNECTED
    run(conn.perform(UUIDS["desk"], Action.FORCE_OFF))  # and it still follows the guest afterwards
    wait_until(lambda: console.status.state is ConsoleState.NOT_RUNNING, what="not running")
    console.close()
