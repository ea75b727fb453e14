"""Test-wide harness: Qt offscreen, one qasync loop for the session with vmgui's libvirt events on it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtWidgets import QApplication

from vmgui.ui.asyncio_loop import create_loop

DATA = Path(__file__).parent / "data"
pytest_plugins = ("tests.console.fixtures",)


@pytest.fixture(scope="session")
def aloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """The asyncio loop on Qt's loop, marked running so tests drive it by processing Qt events.

    libvirt accepts one event implementation per process, so every test shares this loop.
    """
    loop = create_loop(qapp, already_running=True)
    yield loop
    executor = getattr(loop, "_QEventLoop__default_executor", None)
    if executor is not None:
        executor.shutdown(wait=True)


@pytest.fixture
def host_uri() -> str:
    """A test-driver host with guests in every state (fresh per connection: state lives in memory)."""
    return f"test://{DATA / 'host.xml'}"
