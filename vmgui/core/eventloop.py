"""libvirt's event loop on an asyncio loop, safe to drive from libvirt calls made in worker threads.

libvirt registers, updates and removes its socket watches and timers from whichever thread makes a
call (its RPC client re-arms the connection socket around every call). libvirtaio forwards those
straight to the asyncio loop, which is only safe on the loop thread: under qasync a libvirt call from
`asyncio.to_thread` disables a QSocketNotifier from a foreign thread and the process segfaults
(measured: 2 warnings then SIGSEGV within 400 calls). This implementation hands out watch and timer
ids at once under a lock and applies every change on the loop thread, in the order libvirt made them.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libvirt

log = logging.getLogger(__name__)

READABLE = libvirt.VIR_EVENT_HANDLE_READABLE
WRITABLE = libvirt.VIR_EVENT_HANDLE_WRITABLE


@dataclass
class _Watch:
    fd: int
    events: int
    cb: Callable[..., Any]
    opaque: Any


@dataclass
class _Timer:
    interval_ms: int
    cb: Callable[..., Any]
    opaque: Any
    handle: asyncio.Handle | None = field(default=None)


class LibvirtEventLoop:
    """Implements virEventRegisterImpl on one asyncio loop; create and register it on that loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._pending: deque[Callable[[], None]] = deque()
        # The state below is touched only on the loop thread.
        self._watches: dict[int, _Watch] = {}
        self._fd_watches: dict[int, set[int]] = {}
        self._fd_mask: dict[int, int] = {}
        self._timers: dict[int, _Timer] = {}

    def register(self) -> None:
        """Make this the process-wide libvirt event implementation (once, before the first open)."""
        libvirt.virEventRegisterImpl(
            self._add_handle, self._update_handle, self._remove_handle,
            self._add_timeout, self._update_timeout, self._remove_timeout,
        )

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def active_counts(self) -> tuple[int, int]:
        """(socket watches, timers) currently registered; for tests and diagnostics."""
        return len(self._watches), len(self._timers)

    # ---- marshalling --------------------------------------------------------------------------

    def _submit(self, op: Callable[[], None]) -> None:
        with self._lock:
            self._pending.append(op)
        if threading.get_ident() == self._loop_thread:
            self._flush()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    return
                op = self._pending.popleft()
            try:
                op()
            except Exception:
                log.exception("libvirt event loop operation failed")

    # ---- socket watches ------------------------------------------------------------------------

    def _add_handle(self, fd: int, events: int, cb: Callable[..., Any], opaque: Any) -> int:
        with self._lock:
            watch = next(self._ids)
        self._submit(lambda: self._do_add_handle(watch, _Watch(fd, events, cb, opaque)))
        return watch

    def _update_handle(self, watch: int, events: int) -> None:
        self._submit(lambda: self._do_update_handle(watch, events))

    def _remove_handle(self, watch: int) -> int:
        self._submit(lambda: self._do_remove_handle(watch))
        return 0

    def _do_add_handle(self, watch: int, w: _Watch) -> None:
        self._watches[watch] = w
        self._fd_watches.setdefault(w.fd, set()).add(watch)
        self._sync_fd(w.fd)

    def _do_update_handle(self, watch: int, events: int) -> None:
        w = self._watches.get(watch)
        if w is not None:
            w.events = events
            self._sync_fd(w.fd)

    def _do_remove_handle(self, watch: int) -> None:
        w = self._watches.pop(watch, None)
        if w is None:
            return
        ids = self._fd_watches.get(w.fd, set())
        ids.discard(watch)
        if not ids:
            self._fd_watches.pop(w.fd, None)
        self._sync_fd(w.fd)
        self._loop.call_soon(libvirt.virEventInvokeFreeCallback, w.opaque)

    def _sync_fd(self, fd: int) -> None:
        """Point the loop's reader/writer for fd at the union of what its watches ask for."""
        mask = 0
        for watch in self._fd_watches.get(fd, ()):
            mask |= self._watches[watch].events
        old = self._fd_mask.get(fd, 0)
        if mask & READABLE and not old & READABLE:
            self._loop.add_reader(fd, self._dispatch, fd, READABLE)
        elif old & READABLE and not mask & READABLE:
            self._loop.remove_reader(fd)
        if mask & WRITABLE and not old & WRITABLE:
            self._loop.add_writer(fd, self._dispatch, fd, WRITABLE)
        elif old & WRITABLE and not mask & WRITABLE:
            self._loop.remove_writer(fd)
        if mask:
            self._fd_mask[fd] = mask
        else:
            self._fd_mask.pop(fd, None)

    def _dispatch(self, fd: int, event: int) -> None:
        for watch in list(self._fd_watches.get(fd, ())):
            w = self._watches.get(watch)
            if w is not None and w.events & event:
                try:
                    w.cb(watch, fd, event, w.opaque)
                except Exception:
                    log.exception("libvirt handle callback failed")

    # ---- timers -----------------------------------------------------------------------------

    def _add_timeout(self, interval_ms: int, cb: Callable[..., Any], opaque: Any) -> int:
        with self._lock:
            timer = next(self._ids)
        self._submit(lambda: self._do_add_timeout(timer, _Timer(interval_ms, cb, opaque)))
        return timer

    def _update_timeout(self, timer: int, interval_ms: int) -> None:
        self._submit(lambda: self._do_update_timeout(timer, interval_ms))

    def _remove_timeout(self, timer: int) -> int:
        self._submit(lambda: self._do_remove_timeout(timer))
        return 0

    def _do_add_timeout(self, timer: int, t: _Timer) -> None:
        self._timers[timer] = t
        self._arm(timer, t)

    def _do_update_timeout(self, timer: int, interval_ms: int) -> None:
        t = self._timers.get(timer)
        if t is not None:
            t.interval_ms = interval_ms
            self._arm(timer, t)

    def _do_remove_timeout(self, timer: int) -> None:
        t = self._timers.pop(timer, None)
        if t is None:
            return
        if t.handle is not None:
            t.handle.cancel()
        self._loop.call_soon(libvirt.virEventInvokeFreeCallback, t.opaque)

    def _arm(self, timer: int, t: _Timer) -> None:
        if t.handle is not None:
            t.handle.cancel()
            t.handle = None
        if t.interval_ms < 0:
            return
        if t.interval_ms == 0:
            t.handle = self._loop.call_soon(self._fire, timer)
        else:
            t.handle = self._loop.call_later(t.interval_ms / 1000, self._fire, timer)

    def _fire(self, timer: int) -> None:
        t = self._timers.get(timer)
        if t is None:
            return
        t.handle = None
        self._arm(timer, t)  # periodic: re-arm first so the callback may change or remove it
        try:
            t.cb(timer, t.opaque)
        except Exception:
            log.exception("libvirt timeout callback failed")


_installed: LibvirtEventLoop | None = None


def install(loop: asyncio.AbstractEventLoop) -> LibvirtEventLoop:
    """Register the event implementation for this process (libvirt allows only one, ever)."""
    global _installed
    if _installed is None:
        _installed = LibvirtEventLoop(loop)
        _installed.register()
    elif _installed.loop is not loop:
        raise RuntimeError("libvirt's event implementation is already bound to another loop")
    return _installed
