"""The one event loop: asyncio on Qt's loop (qasync), worker threads for libvirt, libvirt's events on it."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import qasync
from PySide6.QtCore import QCoreApplication

from vmgui.core import eventloop
from vmgui.core.errors import silence_default_handler
from vmgui.core.workers import lower_priority

WORKERS = 8  # blocking libvirt calls run here; one slow host does not hold up the others


def create_loop(app: QCoreApplication, *, already_running: bool = False) -> asyncio.AbstractEventLoop:
    """Make the qasync loop current, give it a thread pool, and route libvirt's events into it.

    already_running=True is for pytest-qt: the loop then runs whenever Qt processes events.
    """
    loop: asyncio.AbstractEventLoop = qasync.QEventLoop(app, already_running=already_running)
    asyncio.set_event_loop(loop)
    executor = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="vmgui-worker", initializer=lower_priority)
    # Start the threads now: a thread start waits for the new thread to take the GIL, which stalled
    # the window by up to 33 ms per load of many hosts when it happened on first use.
    for _ in range(WORKERS):
        executor.submit(time.sleep, 0.005)
    loop.set_default_executor(executor)
    silence_default_handler()
    eventloop.install(loop)
    return loop
