"""Puts desktops of "reset on shutdown" pools back to their golden image as soon as they stop (on the loop)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import libvirt

from vmgui.core.connection import Connection, GuestChanges
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.errors import VmguiError
from vmgui.core.observable import Callbacks

if TYPE_CHECKING:
    from vmgui.core.vdi.desktops import Desktop

log = logging.getLogger(__name__)


class ResetOnShutdown:
    """Watches every connection's guests: when a pool desktop goes from running to shut off (shut down in
    vmgui, in the guest, or by virsh), its pool's mode decides whether it is reset. A desktop that stopped
    while no vmgui was watching is reset when vmgui starts it (desktops.start)."""

    def __init__(self, manager: ConnectionManager) -> None:
        self.reset_done: Callbacks[[Connection, Desktop]] = Callbacks()
        self._active: dict[tuple[int, str], bool] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watched: set[int] = set()
        manager.connection_added.connect(self._watch)
        for conn in manager.connections:
            self._watch(conn)

    def _watch(self, conn: Connection) -> None:
        if id(conn) in self._watched:
            return
        self._watched.add(id(conn))
        conn.guests_changed.connect(lambda changes: self._changed(conn, changes))

    def _changed(self, conn: Connection, changes: GuestChanges) -> None:
        for guest in changes.added:
            self._active[(id(conn), guest.uuid)] = guest.state.is_active
        for guest in changes.updated:
            key = (id(conn), guest.uuid)
            was, now = self._active.get(key, False), guest.state.is_active
            self._active[key] = now
            if was and not now and guest.desktop is not None:
                task = asyncio.ensure_future(self._reset(conn, guest.uuid))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        for uuid in changes.removed:
            self._active.pop((id(conn), uuid), None)

    async def _reset(self, conn: Connection, uuid: str) -> None:
        def reset(c: libvirt.virConnect) -> Desktop | None:
            from vmgui.core.vdi import desktops  # with cloning and guest creation: not at every start

            return desktops.after_stop(c, uuid)

        try:
            desktop = await conn.call(reset)
        except (VmguiError, libvirt.libvirtError) as err:  # e.g. another vmgui reset it at the same moment
            log.warning("could not reset the desktop %s after it stopped: %s", uuid, err)
            return
        if desktop is not None:
            log.info("%s stopped and was reset to its golden image", desktop.name)
            self.reset_done.emit(conn, desktop)

    async def wait_idle(self) -> None:
        """Until the resets under way are done."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
