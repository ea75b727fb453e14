"""Test-wide harness: Qt offscreen, one qasync loop for the session with vmgui's libvirt events on it."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import threading
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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over tmp_path: (base URL, directory)."""
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
