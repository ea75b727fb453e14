"""Helpers for tests: run a coroutine or wait for a condition while Qt's loop (and asyncio on it) runs; clean-up."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import libvirt
from PySide6.QtCore import QEventLoop, QTimer

T = TypeVar("T")


def _spin(until: Callable[[], bool], timeout: float) -> bool:
    """Process Qt events until `until()` is true or the timeout passes; returns whether it became true."""
    deadline = time.monotonic() + timeout
    while not until():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        nested = QEventLoop()
        QTimer.singleShot(int(min(left, 0.02) * 1000) + 1, nested.quit)
        nested.exec()
    return True


def run(awaitable: Awaitable[T], timeout: float = 30.0) -> T:
    """Run a coroutine on the session's loop and return its result (raising its exception)."""
    task = asyncio.ensure_future(awaitable)
    if not _spin(task.done, timeout):
        task.cancel()
        raise TimeoutError(f"coroutine did not finish within {timeout} s")
    return task.result()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> float:
    """Wait for the condition while the loop runs; returns the seconds it took, fails the test on timeout."""
    started = time.monotonic()
    if not _spin(condition, timeout):
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
    return time.monotonic() - started


def remove_guests(conn: libvirt.virConnect, match: Callable[[str], bool]) -> None:
    """Stop and undefine every guest whose name `match` accepts (test clean-up)."""
    for dom in conn.listAllDomains(0):
        if match(dom.name()):
            if dom.isActive():
                dom.destroy()
            if dom.isPersistent():
                dom.undefine()


def remove_volumes(conn: libvirt.virConnect, pool: str, match: Callable[[str], bool] = lambda _name: True) -> None:
    """Delete the volumes of `pool` whose names `match` accepts (test clean-up)."""
    for vol in conn.storagePoolLookupByName(pool).listAllVolumes(0):
        if match(vol.name()):
            vol.delete(0)


def start_imports(tmp_path: Path) -> set[str]:
    """The modules `vmgui --connect test:///default --screenshot` imports, from a fresh process."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "vmgui", "--connect", "test:///default",
                             "--screenshot", str(tmp_path / "main.png")], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
