"""Small pictures of running guests' screens, taken with virDomainScreenshot in worker threads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QImage

from vmgui.core.connection import Connection
from vmgui.core.screenshot import take_screenshot
from vmgui.ui.tasks import TaskGroup

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = QSize(240, 180)
CONCURRENCY = 2  # screenshots at a time: each makes QEMU encode a full screen


def decode_thumbnail(data: bytes, size: QSize) -> QImage:
    """Decode PNG/PPM bytes and scale them to fit `size` (runs in a worker: QImage is not tied to a thread)."""
    image = QImage.fromData(data)
    if image.isNull():
        raise ValueError("the hypervisor sent an image Qt cannot read")
    return image.scaled(size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class Thumbnails(QObject):
    """Keeps the latest thumbnail per (connection, guest); `refresh()` takes new ones for the guests asked."""

    changed = Signal(object, str)  # Connection, uuid

    def __init__(self, tasks: TaskGroup, size: QSize = THUMBNAIL_SIZE, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self._tasks = tasks
        self._images: dict[tuple[int, str], QImage] = {}
        self._busy: set[tuple[int, str]] = set()
        self._limit = asyncio.Semaphore(CONCURRENCY)

    def image(self, conn: Connection, uuid: str) -> QImage | None:
        return self._images.get((id(conn), uuid))

    def forget(self, conn: Connection, uuid: str) -> None:
        self._images.pop((id(conn), uuid), None)

    def refresh(self, guests: Iterable[tuple[Connection, str]]) -> None:
        """Take new thumbnails of these guests (those already being taken are skipped)."""
        for conn, uuid in guests:
            key = (id(conn), uuid)
            if key not in self._busy and conn.is_connected:
                self._busy.add(key)
                self._tasks.spawn(self._take(conn, uuid, key))

    async def _take(self, conn: Connection, uuid: str, key: tuple[int, str]) -> None:
        try:
            async with self._limit:
                _mime, data = await conn.call(lambda c: take_screenshot(c, uuid))
                image = await asyncio.to_thread(decode_thumbnail, data, self.size)
        except Exception as err:  # a guest that stopped, a host that went away: keep the old picture
            log.debug("no thumbnail of %s: %s", uuid, err)
            return
        finally:
            self._busy.discard(key)
        self._images[key] = image
        self.changed.emit(conn, uuid)
