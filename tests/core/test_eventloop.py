"""LibvirtEventLoop: watches and timers registered from any thread fire on the loop thread, in order."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from typing import ParamSpec, TypeVar

import libvirt
import pytest

from tests.helpers import run, wait_until
from vmgui.core.eventloop import LibvirtEventLoop

P = ParamSpec("P")
R = TypeVar("R")


@pytest.fixture
def events(aloop: asyncio.AbstractEventLoop) -> Iterator[LibvirtEventLoop]:
    # A second instance on the same loop, not registered with libvirt: its callbacks are the API.
    yield LibvirtEventLoop(aloop)


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    r, w = os.pipe()
    yield r, w
    os.close(r)
    os.close(w)


def in_worker(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    return run(asyncio.to_thread(fn, *args, **kwargs))


def test_handle_added_in_a_worker_fires_on_the_loop_thread(events: LibvirtEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    calls: list[tuple[int, int, int, bool]] = []

    def cb(watch: int, fd: int, event: int, opaque: object) -> None:
        os.read(fd, 100)
        calls.append((watch, fd, event, threading.current_thread() is threading.main_thread()))

    # opaque None: a real one is a libvirt capsule, freed through virEventInvokeFreeCallback on removal
    watch = in_worker(events._add_handle, r, libvirt.VIR_EVENT_HANDLE_READABLE, cb, None)
    assert isinstance(watch, int) and watch > 0
    os.write(w, b"x")
    wait_until(lambda: len(calls) == 1, what="readable callback")
    assert calls[0] == (watch, r, libvirt.VIR_EVENT_HANDLE_READABLE, True)

    in_worker(events._update_handle, watch, 0)  # libvirt's RPC client disarms the watch like this
    run(asyncio.sleep(0))
    os.write(w, b"y")
    run(asyncio.sleep(0.1))
    assert len(calls) == 1, "a disarmed watch must not fire"
    in_worker(events._update_handle, watch, libvirt.VIR_EVENT_HANDLE_READABLE)
    wait_until(lambda: len(calls) == 2, what="re-armed watch fires")

    assert in_worker(events._remove_handle, watch) == 0
    run(asyncio.sleep(0.05))
    assert events.active_counts() == (0, 0)
    os.write(w, b"z")
    run(asyncio.sleep(0.1))
    assert len(calls) == 2


def test_two_watches_on_one_fd_both_fire(events: LibvirtEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    seen: list[int] = []
    a = events._add_handle(r, libvirt.VIR_EVENT_HANDLE_READABLE, lambda wa, *_: seen.append(wa), None)
    b = events._add_handle(r, libvirt.VIR_EVENT_HANDLE_READABLE, lambda wa, *_: seen.append(wa), None)
    os.write(w, b"x")
    wait_until(lambda: {a, b} <= set(seen), what="both watches")
    events._remove_handle(a)
    events._remove_handle(b)
    assert events.active_counts() == (0, 0)


def test_timers_periodic_zero_and_disabled(events: LibvirtEventLoop) -> None:
    ticks: list[int] = []
    timer = in_worker(events._add_timeout, 20, lambda t, _o: ticks.append(t), None)
    wait_until(lambda: len(ticks) >= 3, what="periodic timer")
    in_worker(events._update_timeout, timer, -1)
    run(asyncio.sleep(0.05))
    n = len(ticks)
    run(asyncio.sleep(0.1))
    assert len(ticks) == n, "a disabled timer must not fire"
    events._update_timeout(timer, 0)  # 0: fire on every loop iteration until changed
    wait_until(lambda: len(ticks) >= n + 5, what="immediate timer")
    events._remove_timeout(timer)
    n = len(ticks)
    run(asyncio.sleep(0.1))
    assert len(ticks) == n and events.active_counts() == (0, 0)


def test_callback_may_remove_its_own_timer(events: LibvirtEventLoop) -> None:
    ticks: list[int] = []

    def once(timer: int, _opaque: object) -> None:
        ticks.append(timer)
        events._remove_timeout(timer)
    events._add_timeout(0, once, None)
    run(asyncio.sleep(0.1))
    assert len(ticks) == 1


def test_changes_from_many_threads_apply_in_order(events: LibvirtEventLoop, pipe: tuple[int, int]) -> None:
    r, w = pipe
    fired: list[int] = []
    watch = events._add_handle(r, 0, lambda *_: fired.append(1), None)

    def flip() -> None:
        for i in range(200):
            events._update_handle(watch, libvirt.VIR_EVENT_HANDLE_READABLE if i % 2 else 0)
    run(asyncio.gather(*(asyncio.to_thread(flip) for _ in range(4))))
    run(asyncio.sleep(0.05))
    os.write(w, b"x")
    run(asyncio.sleep(0.1))
    assert fired, "the last update of each thread armed the watch"
    events._remove_handle(watch)
