"""Fixtures for UI tests: a main window on the test-driver host, with settings in a temporary file."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from vmgui.core.connection_manager import ConnectionManager
from vmgui.ui.main_window import MainWindow
from vmgui.ui.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(QSettings(str(tmp_path / "vmgui.conf"), QSettings.Format.IniFormat))


@pytest.fixture
def connection_answers() -> list[tuple[str, bool]]:
    """What the Add Connection dialog answers next (tests append to it); empty means Cancel."""
    return []


@pytest.fixture
def window(aloop: asyncio.AbstractEventLoop, qtbot: QtBot, settings: Settings, host_uri: str,
           connection_answers: list[tuple[str, bool]]) -> Iterator[MainWindow]:
    manager = ConnectionManager(stats_interval=0)
    win = MainWindow(manager, settings,
                     ask_connection=lambda _parent: connection_answers.pop(0) if connection_answers else None)
    qtbot.addWidget(win)
    conn = manager.add(host_uri)
    run(conn.connect())
    win.show()
    wait_until(lambda: win.model.rowCount(win.model.index(0, 0)) == 9, what="guest rows")
    yield win
    run(manager.close_all())
