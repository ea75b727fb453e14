"""One libvirt connection kept alive: open, events, reconnect with back-off, its guests and their stats.

Everything here runs on the asyncio loop thread; each blocking libvirt call goes to a worker thread
through asyncio.to_thread (safe because vmgui.core.eventloop marshals libvirt's watches to the loop).
Results of work started before a reconnect are dropped by comparing a generation counter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

import libvirt

from vmgui.core import lifecycle, metadata, stats
from vmgui.core.errors import VmguiError, describe
from vmgui.core.guest import GuestInfo, read_guest, read_guests
from vmgui.core.observable import Callbacks
from vmgui.core.ssh_prompt import login_refused, not_answered_in
from vmgui.core.uris import pretty_name
from vmgui.core.workers import PYTHON_WORK

log = logging.getLogger(__name__)
T = TypeVar("T")

RECONNECT_DELAYS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
KEEPALIVE = (5, 3)  # seconds between probes, probes missed before the connection counts as dead

_CLOSE_REASONS = {
    libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: "lost the connection (libvirtd stopped or the network failed)",
    libvirt.VIR_CONNECT_CLOSE_REASON_EOF: "the host closed the connection (libvirtd stopped?)",
    libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE: "the host stopped answering (keepalive timeout)",
    libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: "closed",
}

_DOMAIN_EVENTS = (
    libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
    libvirt.VIR_DOMAIN_EVENT_ID_REBOOT,
    libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
    libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
    libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
)


class ConnectionState(Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


@dataclass(frozen=True)
class GuestChanges:
    """One batch of changes to a connection's guest list (a full load is one batch)."""

    added: tuple[GuestInfo, ...] = ()
    updated: tuple[GuestInfo, ...] = ()
    removed: tuple[str, ...] = ()  # UUIDs

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class _Session:
    """What exists only while connected."""

    conn: libvirt.virConnect
    generation: int
    events: bool  # the driver delivers domain events; otherwise the stats tick polls the list


def _until_next_tick(interval: float, started: float) -> float:
    """Seconds to the next multiple of the interval on the monotonic clock, so all connections tick
    together and the window repaints once per tick, not once per connection."""
    now = time.monotonic()
    wait = interval - (now % interval)
    if now + wait - started < interval / 2:  # the tick just done was late: skip the one right after
        wait += interval
    return wait


def _open_blocking(uri: str) -> libvirt.virConnect:
    return libvirt.open(uri)


class Connection:
    """A libvirt connection that tries to stay connected and mirrors the host's guests."""

    def __init__(
        self,
        uri: str,
        *,
        stats_interval: float = stats.DEFAULT_INTERVAL,
        reconnect_delays: tuple[float, ...] = RECONNECT_DELAYS,
        opener: Callable[[str], libvirt.virConnect] = _open_blocking,
    ) -> None:
        self.uri = uri
        self.name = pretty_name(uri)
        self.state = ConnectionState.DISCONNECTED
        self.error = ""  # why it is disconnected ("" when never tried or closed on purpose)
        self.retry_at: float | None = None  # time.monotonic() of the next reconnect attempt
        self.guests: dict[str, GuestInfo] = {}
        self.stats: dict[str, stats.GuestStats] = {}
        self.networks: dict[str, bool] = {}  # name -> active
        self.pools: dict[str, bool] = {}
        self.list_loaded = False  # the guest list has been read since the last (re)connect
        self.stats_ticks = 0  # stats ticks since the last (re)connect
        self.stats_interval = stats_interval
        self.state_changed: Callbacks[[]] = Callbacks()
        self.guests_changed: Callbacks[[GuestChanges]] = Callbacks()
        self.stats_updated: Callbacks[[]] = Callbacks()
        self.host_changed: Callbacks[[]] = Callbacks()  # networks or pools changed

        self._reconnect_delays = reconnect_delays
        self._opener = opener
        self._session: _Session | None = None
        self._generation = 0
        self._want_connected = False
        self._attempt = 0
        self._dirty: set[str] = set()
        self._host_dirty = False
        self._refresh_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retry_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # ---- public API -----------------------------------------------------------------------------

    @property
    def is_connected(self) -> bool:
        return self.state is ConnectionState.CONNECTED

    @property
    def status_text(self) -> str:
        if self.state is ConnectionState.CONNECTED:
            return "Connected"
        if self.state is ConnectionState.CONNECTING:
            return "Connecting…"
        text = "Disconnected"
        if self.error:
            text += f": {self.error}"
        if self.retry_at is not None:
            text += f" (retrying in {max(0, round(self.retry_at - time.monotonic()))} s)"
        return text

    async def connect(self) -> None:
        """Open the connection (now, even if a retry is pending) and keep it open until disconnect()."""
        self._loop = asyncio.get_running_loop()
        self._want_connected = True
        self._attempt = 0
        self._cancel_retry()
        await self._open()

    async def disconnect(self) -> None:
        """Close on purpose: no reconnect until connect() is called again."""
        self._want_connected = False
        self._cancel_retry()
        await self._drop("")

    async def close(self) -> None:
        """Disconnect and wait for background work to end (application exit)."""
        await self.disconnect()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def perform(self, uuid: str, action: lifecycle.Action) -> None:
        """Run a lifecycle action on a guest; VmguiError carries the message to show."""
        def work(conn: libvirt.virConnect) -> None:
            lifecycle.perform(self._lookup(conn, uuid), action)
        await self.call(work)
        self._mark_dirty([uuid])

    async def set_tags(self, uuid: str, tags: Iterable[str]) -> tuple[str, ...]:
        def work(conn: libvirt.virConnect) -> tuple[str, ...]:
            dom = self._lookup(conn, uuid)
            try:
                return metadata.write_tags(dom, tags)
            except libvirt.libvirtError as err:
                raise VmguiError(describe(err, f"save the tags of '{dom.name()}'")) from err
        result = await self.call(work)
        self._mark_dirty([uuid])
        return result

    def set_stats_interval(self, seconds: float) -> None:
        """Seconds between stats ticks; 0 turns stats off. Takes effect at the next tick."""
        self.stats_interval = max(0.0, seconds)
        session = self._session
        if session is not None and seconds > 0 and not any(
            t.get_name() == self._stats_task_name(session) for t in self._tasks
        ):
            self._spawn(self._stats_loop(session), self._stats_task_name(session))

    # ---- opening and closing --------------------------------------------------------------------

    async def _open(self) -> None:
        if self.state is not ConnectionState.DISCONNECTED:
            return
        self._generation += 1
        generation = self._generation
        self.retry_at = None
        self._set_state(ConnectionState.CONNECTING, "")
        try:
            conn, events = await asyncio.to_thread(self._open_and_register)
        except Exception as err:  # any failure to open is shown on the connection, never raised
            if generation == self._generation:
                log.info("opening %s failed: %s", self.uri, err)
                text = describe(err, "connect").removeprefix("Could not connect: ")
                unanswered = not_answered_in(text)  # the person cancelled ssh's question in vmgui
                self._set_state(ConnectionState.DISCONNECTED, unanswered or text)
                # Retrying would ask again at once, or be refused again (a wrong password or key, a
                # changed host key): the person reconnects when it is put right.
                if not unanswered and not login_refused(text):
                    self._schedule_reconnect()
            return
        if generation != self._generation or not self._want_connected:
            await asyncio.to_thread(self._close_quietly, conn)
            return
        session = _Session(conn, generation, events)
        self._session = session
        self._attempt = 0
        self._set_state(ConnectionState.CONNECTED, "")
        await self._load_all(session)
        if self.stats_interval > 0:
            self._spawn(self._stats_loop(session), self._stats_task_name(session))

    def _open_and_register(self) -> tuple[libvirt.virConnect, bool]:
        conn = self._opener(self.uri)
        try:
            conn.registerCloseCallback(self._on_closed, None)
            with contextlib.suppress(libvirt.libvirtError):  # local drivers (test:///) have no keepalive
                conn.setKeepAlive(*KEEPALIVE)
            events = True
            for event_id in _DOMAIN_EVENTS:
                try:
                    conn.domainEventRegisterAny(None, event_id, self._on_domain_event, event_id)
                except libvirt.libvirtError as err:
                    log.info("%s: no domain event %d (%s); polling instead", self.uri, event_id, err)
                    events = False
            for register, event_ids in (
                (conn.networkEventRegisterAny, (libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE,)),
                (conn.storagePoolEventRegisterAny, (libvirt.VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE,
                                                     libvirt.VIR_STORAGE_POOL_EVENT_ID_REFRESH)),
            ):
                for event_id in event_ids:
                    try:
                        register(None, event_id, self._on_host_event, None)
                    except libvirt.libvirtError as err:
                        log.info("%s: no network/pool event %d: %s", self.uri, event_id, err)
        except BaseException:
            self._close_quietly(conn)
            raise
        return conn, events

    @staticmethod
    def _close_quietly(conn: libvirt.virConnect) -> None:
        with contextlib.suppress(libvirt.libvirtError):
            conn.unregisterCloseCallback()
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()

    async def _drop(self, reason: str) -> None:
        """Forget the session: clear the guest list, close the libvirt connection in the background."""
        session, self._session = self._session, None
        self._generation += 1
        for task in list(self._tasks):
            if task is not asyncio.current_task() and task is not self._retry_task:
                task.cancel()
        self._dirty.clear()
        self.list_loaded = False
        self.stats_ticks = 0
        if self.guests:
            removed = tuple(self.guests)
            self.guests = {}
            self.stats = {}
            self.guests_changed.emit(GuestChanges(removed=removed))
        self.networks, self.pools = {}, {}
        self._set_state(ConnectionState.DISCONNECTED, reason)
        if session is not None:
            await asyncio.to_thread(self._close_quietly, session.conn)

    def _on_closed(self, _conn: libvirt.virConnect, reason: int, _opaque: object) -> None:
        """libvirt says the connection died; it may say so on a worker thread, so hop to the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._closed, reason)

    def _closed(self, reason: int) -> None:
        if self._session is None or reason == libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT:
            return
        text = _CLOSE_REASONS.get(reason, "connection lost")
        log.warning("%s: %s", self.uri, text)

        async def lost() -> None:
            await self._drop(text)
            self._schedule_reconnect()
        self._spawn(lost(), "lost")

    def _schedule_reconnect(self) -> None:
        if not self._want_connected or not self._reconnect_delays:
            return
        self._cancel_retry()
        delay = self._reconnect_delays[min(self._attempt, len(self._reconnect_delays) - 1)]
        self._attempt += 1

        async def retry() -> None:
            await asyncio.sleep(delay)
            self._retry_task = None
            self.retry_at = None
            await self._open()
        self._retry_task = self._spawn(retry(), "retry")
        self.retry_at = time.monotonic() + delay
        self.state_changed.emit()

    def _cancel_retry(self) -> None:
        if self._retry_task is not None and self._retry_task is not asyncio.current_task():
            self._retry_task.cancel()
        self._retry_task = None
        self.retry_at = None

    def _set_state(self, state: ConnectionState, error: str) -> None:
        self.state = state
        self.error = error
        self.state_changed.emit()

    # ---- the guest list -------------------------------------------------------------------------

    def _on_domain_event(self, _conn: libvirt.virConnect, dom: libvirt.virDomain, *args: Any) -> None:
        try:
            uuid = dom.UUIDString()
        except libvirt.libvirtError:
            return
        self._mark_dirty([uuid])

    def _on_host_event(self, *_args: Any) -> None:
        self._host_dirty = True
        self._kick_refresh()

    def _mark_dirty(self, uuids: Iterable[str]) -> None:
        self._dirty.update(uuids)
        self._kick_refresh()

    def _kick_refresh(self) -> None:
        if self._session is not None and (self._refresh_task is None or self._refresh_task.done()):
            self._refresh_task = self._spawn(self._refresh_loop(self._session), "refresh")

    async def _refresh_loop(self, session: _Session) -> None:
        """Re-read the guests events named, in batches, until nothing is left to read."""
        while (self._dirty or self._host_dirty) and session.generation == self._generation:
            batch, self._dirty = self._dirty, set()
            host, self._host_dirty = self._host_dirty, False
            try:
                found, gone = await asyncio.to_thread(self._read_guests, session.conn, batch)
                nets_pools = await asyncio.to_thread(self._read_host, session.conn) if host else None
            except libvirt.libvirtError as err:
                log.info("%s: refresh failed: %s", self.uri, err)  # the close callback handles a dead link
                return
            if session.generation != self._generation:
                return
            self._apply(found, gone)
            if nets_pools is not None:
                self.networks, self.pools = nets_pools
                self.host_changed.emit()

    async def _load_all(self, session: _Session) -> None:
        try:
            found, nets_pools = await asyncio.to_thread(self._read_all, session.conn)
        except libvirt.libvirtError as err:
            log.info("%s: listing guests failed: %s", self.uri, err)
            return
        if session.generation != self._generation:
            return
        present = {g.uuid for g in found}
        self._apply(found, [uuid for uuid in self.guests if uuid not in present])
        self.list_loaded = True
        self.networks, self.pools = nets_pools
        self.host_changed.emit()

    def _apply(self, found: Iterable[GuestInfo], gone: Iterable[str]) -> None:
        added, updated = [], []
        for info in found:
            old = self.guests.get(info.uuid)
            if old is None:
                added.append(info)
            elif old != info:
                updated.append(info)
            self.guests[info.uuid] = info
        removed = tuple(uuid for uuid in gone if self.guests.pop(uuid, None) is not None)
        for uuid in removed:
            self.stats.pop(uuid, None)
        changes = GuestChanges(tuple(added), tuple(updated), removed)
        if changes:
            self.guests_changed.emit(changes)

    @staticmethod
    def _read_guests(conn: libvirt.virConnect, uuids: Iterable[str]) -> tuple[list[GuestInfo], list[str]]:
        found, gone = [], []
        with PYTHON_WORK:
            for uuid in uuids:
                try:
                    found.append(read_guest(conn.lookupByUUIDString(uuid)))
                except libvirt.libvirtError as err:
                    if err.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
                    gone.append(uuid)
        return found, gone

    @classmethod
    def _read_all(cls, conn: libvirt.virConnect) -> tuple[list[GuestInfo], tuple[dict[str, bool], dict[str, bool]]]:
        domains = conn.listAllDomains(0)
        # Hundreds of calls, each wrapped in Python: one host at a time, or the workers together
        # keep the GUI thread from the GIL (measured: 200-380 ms stalls loading 10 x 500 guests).
        with PYTHON_WORK:
            found = read_guests(conn, domains)
        return found, cls._read_host(conn)

    @staticmethod
    def _read_host(conn: libvirt.virConnect) -> tuple[dict[str, bool], dict[str, bool]]:
        def listing(objects: Iterable[Any]) -> dict[str, bool]:
            return {o.name(): bool(o.isActive()) for o in objects}
        try:
            networks = listing(conn.listAllNetworks(0))
        except libvirt.libvirtError:
            networks = {}
        try:
            pools = listing(conn.listAllStoragePools(0))
        except libvirt.libvirtError:
            pools = {}
        return networks, pools

    # ---- stats ----------------------------------------------------------------------------------

    def _stats_task_name(self, session: _Session) -> str:
        return f"stats-{session.generation}"

    async def _stats_loop(self, session: _Session) -> None:
        while session.generation == self._generation and self.stats_interval > 0:
            started = time.monotonic()
            try:
                fresh = await asyncio.to_thread(stats.collect, session.conn, self.stats)
            except libvirt.libvirtError as err:
                log.info("%s: stats failed: %s", self.uri, err)
            else:
                if session.generation != self._generation:
                    return
                self.stats = fresh
                self.stats_ticks += 1
                self.stats_updated.emit()
            if not session.events:
                await self._load_all(session)
            if self.stats_interval <= 0:  # switched off while this tick ran
                return
            await asyncio.sleep(_until_next_tick(self.stats_interval, started))

    # ---- helpers --------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, T], name: str) -> asyncio.Task[T]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def call(self, work: Callable[[libvirt.virConnect], T]) -> T:
        """Run blocking libvirt work on this connection in a worker thread."""
        session = self._session
        if session is None:
            raise VmguiError(f"Not connected to {self.name}.")
        return await asyncio.to_thread(work, session.conn)

    async def call_with(self, other: Connection, work: Callable[[libvirt.virConnect, libvirt.virConnect], T]) -> T:
        """Run blocking libvirt work that needs this host and `other` (copying between hosts) in a worker."""
        mine, theirs = self._session, other._session
        if mine is None or theirs is None:
            raise VmguiError(f"Not connected to {(self if mine is None else other).name}.")
        return await asyncio.to_thread(work, mine.conn, theirs.conn)

    @staticmethod
    def _lookup(conn: libvirt.virConnect, uuid: str) -> libvirt.virDomain:
        try:
            return conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError as err:
            raise VmguiError(describe(err, "find the guest")) from err
