"""Keeping worker threads' Python work from starving the GUI thread of the GIL.

libvirt calls release the GIL, so workers can wait on hosts in parallel. Parsing XML or stats records
is pure Python, though: eight workers doing it at once made one tree repaint take 650 ms instead of
36 ms (bench/scale.py), because the GUI thread queued for the GIL behind each of them. Holding
PYTHON_WORK around such work lets one worker at a time compete with the GUI thread.

One worker still doubles the GUI thread's time: a tree layout and repaint is a thousand short calls
into Python, and each may wait for the GIL while the worker runs Python. So the GUI thread marks such
work with gui_busy(), and workers call yield_to_gui() between items (a guest, a stats record): they
pause there until the GUI thread is done, or for at most MAX_YIELD seconds.

Work that releases the GIL still competes for the CPU: the test driver parsing a host file, or libvirt
decoding a large reply, ran beside the GUI thread on both cores of the benchmark machine. Worker
threads therefore run at a lower CPU priority (lower_priority, their pool's initializer), so the
scheduler gives the GUI thread a core first.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

PYTHON_WORK = threading.Lock()

MAX_YIELD = 0.1  # seconds a worker waits for the GUI thread at most, per yield
# How much nicer than the GUI thread workers run. At +10 the scheduler gives a busy worker about a
# tenth of a core the GUI thread also wants (CFS weights 110 : 1024), yet still runs a worker that
# holds the GIL within a few milliseconds, so the GUI thread never waits long for it.
WORKER_NICENESS = 10

_gui_idle = threading.Event()  # clear while the GUI thread is inside gui_busy()
_gui_idle.set()
_depth = 0  # nesting of gui_busy() (GUI thread only)


@contextmanager
def gui_busy() -> Iterator[None]:
    """On the GUI thread, around work that calls into Python many times (a layout, a repaint)."""
    global _depth
    _depth += 1
    if _depth == 1:
        _gui_idle.clear()
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0:
            _gui_idle.set()


def yield_to_gui(timeout: float = MAX_YIELD) -> None:
    """In a worker, between items of Python-heavy work: wait while the GUI thread is busy."""
    if not _gui_idle.is_set():
        _gui_idle.wait(timeout)


def lower_priority(niceness: int = WORKER_NICENESS) -> None:
    """In a new worker thread (a thread pool's initializer): give the CPU to the GUI thread first.

    Linux keeps a nice value per thread; elsewhere this does nothing. Raising one's own nice value
    needs no privilege, and a failure only leaves the thread as it was.
    """
    if sys.platform != "linux" or niceness <= 0:
        return
    tid = threading.get_native_id()
    with suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)
