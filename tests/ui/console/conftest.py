"""Fixtures for console UI tests: a console window (pytest-qt closes it, which closes its consoles)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from tests.console.console_host import UUIDS
from tests.helpers import wait_until
from vmgui.core.connection import Connection
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow


@pytest.fixture
def window(qtbot: QtBot) -> Iterator[ConsoleWindow]:
    win = ConsoleWindow()
    qtbot.addWidget(win)
    yield win


def open_desk(window: ConsoleWindow, conn: Connection) -> ConsoleView:
    """Open the test host's 'desk' guest and wait for its first frame."""
    view = window.open_guest(conn, UUIDS["desk"])
    wait_until(lambda: view.session.frames > 0 and view.display.image() is not None, what="first frame")
    return view
