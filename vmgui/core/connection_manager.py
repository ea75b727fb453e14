"""The set of libvirt connections the user works with: add, remove, and shared settings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from vmgui.core import stats
from vmgui.core.connection import Connection
from vmgui.core.observable import Callbacks


class ConnectionManager:
    """Owns the Connection objects, in the order they were added; one per URI."""

    def __init__(
        self,
        *,
        stats_interval: float = stats.DEFAULT_INTERVAL,
        factory: Callable[..., Connection] = Connection,
    ) -> None:
        self.connections: list[Connection] = []
        self.stats_interval = stats_interval
        self._factory = factory
        self.connection_added: Callbacks[[Connection]] = Callbacks()
        self.connection_removed: Callbacks[[Connection]] = Callbacks()

    def find(self, uri: str) -> Connection | None:
        return next((c for c in self.connections if c.uri == uri), None)

    def add(self, uri: str) -> Connection:
        """The connection for this URI, created (not yet opened) when it is new."""
        existing = self.find(uri)
        if existing is not None:
            return existing
        conn = self._factory(uri, stats_interval=self.stats_interval)
        self.connections.append(conn)
        self.connection_added.emit(conn)
        return conn

    async def remove(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            self.connection_removed.emit(conn)
        await conn.close()

    def set_stats_interval(self, seconds: float) -> None:
        self.stats_interval = seconds
        for conn in self.connections:
            conn.set_stats_interval(seconds)

    async def close_all(self) -> None:
        await asyncio.gather(*(c.close() for c in self.connections), return_exceptions=True)
