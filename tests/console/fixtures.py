"""Fixtures shared by console tests (a pytest plugin loaded from tests/conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.console_host import write_host
from tests.console.fake_rfb import FakeRfbServer
from tests.helpers import run, wait_until
from vmgui.core.connection import Connection


@pytest.fixture
def conn(aloop: asyncio.AbstractEventLoop, tmp_path: Path, server: FakeRfbServer) -> Iterator[Connection]:
    """A connection to a test-driver host whose guest 'desk' shows the test module's `server` fixture."""
    connection = Connection(write_host(tmp_path, server.port), stats_interval=0)
    run(connection.connect())
    wait_until(lambda: connection.list_loaded, what="guest list")
    yield connection
    run(connection.close())
