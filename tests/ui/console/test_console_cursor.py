"""The VNC server's pointer shape (RFB's Cursor pseudo-encoding) becomes the console's local cursor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from tests.console.fake_rfb import ENC_RICH_CURSOR, FakeRfbServer
from tests.helpers import wait_until
from tests.ui.console.conftest import open_desk
from vmgui.console.state import ConsoleState
from vmgui.core.connection import Connection
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.console.display import ConsoleDisplay

RED = (230, 20, 40)  # no two channels alike: a swapped byte order shows
SIZE, HOT = 16, (3, 5)
CORNER = 5  # the top-right CORNER x CORNER pixels are transparent: a mirrored or flipped image shows


@pytest.fixture
def server() -> Iterator[FakeRfbServer]:
    with FakeRfbServer(320, 200, name="desk") as srv:
        srv.fill((10, 120, 200))
        yield srv




def red_square() -> bytes:
    """16x16 R,G,B,A: red, the top-right corner transparent, one pixel half transparent."""
    rgba = bytearray()
    for y in range(SIZE):
        for x in range(SIZE):
            alpha = 0 if x >= SIZE - CORNER and y < CORNER else 200 if (x, y) == (8, 12) else 255
            rgba += bytes((*RED, alpha))
    return bytes(rgba)


def rgba_at(image: QImage, x: int, y: int) -> tuple[int, int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue(), c.alpha()


def shape(display: ConsoleDisplay) -> Qt.CursorShape:
    return display.cursor().shape()


def test_the_servers_pointer_shape_is_the_local_cursor(window: ConsoleWindow, conn: Connection,
                                                       server: FakeRfbServer) -> None:
    view = open_desk(window, conn)
    display = view.display
    assert server.find(lambda e: e[0] == "set_encodings" and ENC_RICH_CURSOR in e[1]) is not None
    assert shape(display) is not Qt.CursorShape.BitmapCursor

    server.set_cursor(SIZE, SIZE, *HOT, red_square())
    wait_until(lambda: shape(display) is Qt.CursorShape.BitmapCursor, what="the server's cursor")
    cursor = display.cursor()
    pixmap = cursor.pixmap()
    assert pixmap.size().toTuple() == (SIZE, SIZE) and pixmap.devicePixelRatio() == 1.0  # device pixels
    assert cursor.hotSpot() == QPoint(*HOT)
    image = pixmap.toImage().convertToFormat(QImage.Format.Format_RGBA8888)
    assert rgba_at(image, 8, 8) == (*RED, 255)
    assert rgba_at(image, 0, 0) == (*RED, 255) and rgba_at(image, SIZE - 1, SIZE - 1) == (*RED, 255)
    assert rgba_at(image, SIZE - CORNER - 1, 0) == (*RED, 255)
    assert image.pixelColor(SIZE - 1, 0).alpha() == 0 and image.pixelColor(SIZE - CORNER, CORNER - 1).alpha() == 0
    assert rgba_at(image, 8, 12) == (*RED, 255)  # RFB's mask has one bit a pixel: alpha 200 is opaque

    server.set_cursor(0, 0, 0, 0, b"")  # the empty cursor: no pointer over the console
    wait_until(lambda: shape(display) is Qt.CursorShape.BlankCursor, what="the empty cursor")

    server.set_cursor(SIZE, SIZE, 0, 0, red_square())  # and a shape brings it back
    wait_until(lambda: shape(display) is Qt.CursorShape.BitmapCursor, what="the cursor again")
    assert display.cursor().hotSpot() == QPoint(0, 0)
    assert view.session.status.state is ConsoleState.CONNECTED
