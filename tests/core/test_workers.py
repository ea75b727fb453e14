"""The GUI-priority gate: workers pause between items while the GUI thread is busy."""

from __future__ import annotations

import os
import threading
import time

from vmgui.core import workers


def test_yield_returns_at_once_when_the_gui_is_idle() -> None:
    started = time.perf_counter()
    workers.yield_to_gui(timeout=1.0)
    assert time.perf_counter() - started < 0.1


def test_a_worker_waits_until_the_gui_is_done() -> None:
    resumed: list[float] = []

    def work() -> None:
        workers.yield_to_gui(timeout=5.0)
        resumed.append(time.perf_counter())

    worker = threading.Thread(target=work)
    with workers.gui_busy():
        with workers.gui_busy():  # nested: only the outermost exit lets workers go
            worker.start()
            time.sleep(0.05)
        time.sleep(0.05)
        assert not resumed
        done = time.perf_counter()
    worker.join(5.0)
    assert resumed and resumed[0] >= done


def test_a_worker_waits_at_most_the_timeout() -> None:
    with workers.gui_busy():
        started = time.perf_counter()
        workers.yield_to_gui(timeout=0.05)
        assert 0.04 < time.perf_counter() - started < 1.0
    workers.yield_to_gui(timeout=1.0)  # idle again afterwards


def test_busy_ends_even_when_the_work_raises() -> None:
    try:
        with workers.gui_busy():
            raise RuntimeError("paint failed")
    except RuntimeError:
        pass
    started = time.perf_counter()
    workers.yield_to_gui(timeout=1.0)
    assert time.perf_counter() - started < 0.1


def _niceness(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)


def test_lower_priority_makes_only_the_calling_thread_nicer() -> None:
    main = threading.get_native_id()
    main_before = _niceness(main)
    seen: list[tuple[int, int]] = []

    def work() -> None:
        tid = threading.get_native_id()
        before = _niceness(tid)
        workers.lower_priority(5)
        seen.append((before, _niceness(tid)))

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(5.0)
    before, after = seen[0]
    assert after == min(before + 5, 19)  # 19 is the nicest a thread can be
    assert _niceness(main) == main_before
