"""The one event loop: its worker threads yield the CPU to the GUI thread."""

from __future__ import annotations

import asyncio
import os
import threading

from tests.helpers import run
from vmgui.core.workers import WORKER_NICENESS


def _own_niceness() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_blocking_calls_run_in_nicer_threads_than_the_gui(aloop: asyncio.AbstractEventLoop) -> None:
    gui = _own_niceness()
    name, niceness = run(asyncio.to_thread(lambda: (threading.current_thread().name, _own_niceness())))
    assert name.startswith("vmgui-worker")
    assert niceness == min(gui + WORKER_NICENESS, 19)
