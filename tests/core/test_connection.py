"""Connection on libvirt's test driver: list, events, lifecycle, tags, disconnect and reconnect."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import libvirt
import pytest

from tests.helpers import run, wait_until
from vmgui.core.connection import Connection, ConnectionState, GuestChanges
from vmgui.core.domstate import GuestState
from vmgui.core.errors import VmguiError
from vmgui.core.lifecycle import Action


@pytest.fixture
def conn(aloop: asyncio.AbstractEventLoop, host_uri: str) -> Iterator[Connection]:
    c = Connection(host_uri, stats_interval=0)
    run(c.connect())
    yield c
    run(c.close())


def by_name(c: Connection, name: str) -> str:
    return next(g.uuid for g in c.guests.values() if g.name == name)


def test_lists_every_guest_with_its_state(conn: Connection) -> None:
    assert conn.state is ConnectionState.CONNECTED
    states = {g.name: g.state for g in conn.guests.values()}
    assert states == {
        "web-frontend": GuestState.RUNNING, "db-primary": GuestState.RUNNING,
        "build-agent": GuestState.BLOCKED, "paused-desktop": GuestState.PAUSED,
        "stopping-guest": GuestState.SHUTDOWN, "win11-template": GuestState.SHUTOFF,
        "old-ci-runner": GuestState.SHUTOFF, "crashed-guest": GuestState.CRASHED,
        "suspended-laptop": GuestState.PMSUSPENDED,
    }
    web = conn.guests[by_name(conn, "web-frontend")]
    assert (web.vcpus, web.memory_kib, web.title, web.tags) == (2, 2048 * 1024, "Public web server", ("prod", "web"))
    assert web.description == "nginx + app" and web.persistent and not web.autostart
    assert conn.networks == {"default": True, "isolated": True} and conn.pools == {"default": True}


def test_lifecycle_actions_change_state_through_events(conn: Connection) -> None:
    uuid = by_name(conn, "web-frontend")
    seen: list[GuestChanges] = []
    conn.guests_changed.connect(seen.append)
    for action, state in [(Action.PAUSE, GuestState.PAUSED), (Action.RESUME, GuestState.RUNNING),
                          (Action.FORCE_OFF, GuestState.SHUTOFF), (Action.START, GuestState.RUNNING),
                          (Action.SAVE, GuestState.SHUTOFF)]:
        run(conn.perform(uuid, action))

        def reached(expected: GuestState = state) -> bool:
            return conn.guests[uuid].state is expected

        wait_until(reached, what=f"{action} -> {state}")
    assert conn.guests[uuid].has_managed_save and conn.guests[uuid].state_text == "Shut off (saved)"
    assert any(uuid in [g.uuid for g in c.updated] for c in seen)


def test_failed_action_gives_a_clear_message(conn: Connection) -> None:
    uuid = by_name(conn, "win11-template")
    with pytest.raises(VmguiError, match=r"Could not pause 'win11-template': .*not running"):
        run(conn.perform(uuid, Action.PAUSE))


def test_changes_made_elsewhere_arrive_by_event(conn: Connection) -> None:
    """Changes behind the Connection's back. A second test:/// connection would have state of its own,
    so they go through the session's libvirt handle, as another client of the same host would."""
    session = conn._session
    assert session is not None
    dom = session.conn.lookupByName("db-primary")
    dom.suspend()  # behind the Connection's back: only the event can tell it
    wait_until(lambda: conn.guests[dom.UUIDString()].state is GuestState.PAUSED, what="event")
    xml = dom.XMLDesc(0).replace("<name>db-primary</name>", "<name>db-copy</name>")
    xml = xml.replace(dom.UUIDString(), "99999999-1111-2222-3333-000000000099")
    session.conn.defineXML(xml)
    wait_until(lambda: "99999999-1111-2222-3333-000000000099" in conn.guests, what="define event")
    session.conn.lookupByName("db-copy").undefine()
    wait_until(lambda: "99999999-1111-2222-3333-000000000099" not in conn.guests, what="undefine event")


def test_tags_are_stored_in_metadata(conn: Connection) -> None:
    uuid = by_name(conn, "old-ci-runner")
    assert run(conn.set_tags(uuid, [" ci ", "Linux", "linux", "nightly"])) == ("ci", "Linux", "nightly")
    wait_until(lambda: conn.guests[uuid].tags == ("ci", "Linux", "nightly"), what="tags")
    session = conn._session
    assert session is not None
    xml = session.conn.lookupByUUIDString(uuid).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    assert "<vmgui:tag>nightly</vmgui:tag>" in xml and "https://vmgui.org/xmlns/guest/1.0" in xml
    with pytest.raises(ValueError, match="characters"):
        run(conn.set_tags(uuid, ["bad<tag>"]))


def test_disconnect_clears_and_connect_restores(conn: Connection) -> None:
    count = len(conn.guests)
    run(conn.disconnect())
    assert conn.state is ConnectionState.DISCONNECTED and conn.guests == {} and conn.error == ""
    run(conn.connect())
    state: ConnectionState = conn.state  # read anew: mypy would keep the DISCONNECTED narrowing across the await
    assert state is ConnectionState.CONNECTED and len(conn.guests) == count


def test_unreachable_host_shows_why_and_retries(aloop: asyncio.AbstractEventLoop) -> None:
    attempts: list[str] = []

    def opener(uri: str) -> libvirt.virConnect:
        attempts.append(uri)
        return libvirt.open("test:///nonexistent/host.xml")

    c = Connection("qemu+ssh://nobody@unreachable.invalid/system", reconnect_delays=(0.05, 0.1), opener=opener)
    run(c.connect())
    assert c.state is ConnectionState.DISCONNECTED and c.error
    assert "retrying in" in c.status_text
    wait_until(lambda: len(attempts) >= 3, what="retries with back-off")
    run(c.close())
    n = len(attempts)
    run(asyncio.sleep(0.3))
    assert len(attempts) == n, "no retries after close"


def test_actions_when_disconnected_say_so(aloop: asyncio.AbstractEventLoop, host_uri: str) -> None:
    c = Connection(host_uri)
    with pytest.raises(VmguiError, match="Not connected"):
        run(c.perform("x", Action.START))


def test_network_and_pool_events_update_the_host_lists(conn: Connection) -> None:
    session = conn._session
    assert session is not None
    changed: list[int] = []
    conn.host_changed.connect(lambda: changed.append(1))
    session.conn.networkLookupByName("isolated").destroy()
    wait_until(lambda: conn.networks.get("isolated") is False, what="network event")
    session.conn.storagePoolLookupByName("default").destroy()
    wait_until(lambda: conn.pools.get("default") is False, what="pool event")
    assert changed


def test_stats_ticks_and_switching_them_off(aloop: asyncio.AbstractEventLoop, host_uri: str) -> None:
    c = Connection(host_uri, stats_interval=0.5)
    run(c.connect())
    wait_until(lambda: c.stats_ticks >= 2, timeout=5, what="two ticks")
    assert len(c.stats) == 7  # the test driver's active guests
    c.set_stats_interval(0)
    run(asyncio.sleep(0.1))
    ticks = c.stats_ticks
    run(asyncio.sleep(1.2))
    assert c.stats_ticks == ticks, "no ticks once stats are off"
    c.set_stats_interval(0.5)
    wait_until(lambda: c.stats_ticks > ticks, timeout=5, what="ticks again")
    run(c.close())


def test_a_host_that_refuses_the_login_is_not_retried(aloop: asyncio.AbstractEventLoop) -> None:
    attempts: list[str] = []

    def opener(uri: str) -> libvirt.virConnect:
        attempts.append(uri)
        raise libvirt.libvirtError("Cannot recv data: nobody@h: Permission denied (publickey,password).: "
                                   "Connection reset by peer")

    c = Connection("qemu+ssh://nobody@h/system", reconnect_delays=(0.05,), opener=opener)
    run(c.connect())
    assert c.state is ConnectionState.DISCONNECTED and "Permission denied" in c.error
    assert c.retry_at is None and "retrying" not in c.status_text
    run(asyncio.sleep(0.3))
    assert len(attempts) == 1  # a retry would pop the password dialog again
    run(c.connect())  # the person reconnects once the password or key is right
    assert len(attempts) == 2
    run(c.close())
