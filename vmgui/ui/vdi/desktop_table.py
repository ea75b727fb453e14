"""The helpdesk's table of pool desktops: name, user, state, golden version and host, live from the guest lists."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer

from vmgui.core.connection import Connection, GuestChanges
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.guest import GuestInfo
from vmgui.ui.state_icons import state_icon

AnyIndex = QModelIndex | QPersistentModelIndex
COLUMNS = ("Desktop", "User", "State", "Golden version", "Pool", "Host")
UNASSIGNED = "—"


def user_matches(guest: GuestInfo, query: str) -> bool:
    """Every word is in the desktop's user or name ('free' finds unassigned desktops)."""
    mark = guest.desktop
    if mark is None:
        return False
    user = (mark.user or "").casefold()
    for word in query.casefold().split():
        if not (word in user or word in guest.name.casefold() or (word == "free" and not mark.user)):
            return False
    return True


class DesktopTableModel(QAbstractTableModel):
    """Pool desktops of every connection: all of them, or one pool's (`show_pool`), filtered by `set_query`.
    Each pool's version (pool -> number) comes from `set_pool_versions`, to say which desktops move at
    their next reset."""

    def __init__(self, manager: ConnectionManager, parent: Any = None) -> None:
        super().__init__(parent)
        self.manager = manager
        self.pool: tuple[int, str] | None = None  # (id(connection), pool name) or None: every pool
        self.query = ""
        self.pool_versions: dict[tuple[int, str], int] = {}
        self._rows: list[tuple[Connection, GuestInfo]] = []
        self._watched: set[int] = set()
        self._timer = QTimer(self, singleShot=True, interval=100)  # a burst of events is one rebuild
        self._timer.timeout.connect(self.rebuild)
        manager.connection_added.connect(self._watch)
        manager.connection_removed.connect(lambda _c: self._timer.start())
        for conn in manager.connections:
            self._watch(conn)
        self.rebuild()

    def _watch(self, conn: Connection) -> None:
        if id(conn) not in self._watched:
            self._watched.add(id(conn))
            conn.guests_changed.connect(self._changed)
        self._timer.start()

    def _changed(self, changes: GuestChanges) -> None:
        if any(g.desktop is not None for g in (*changes.added, *changes.updated)) or changes.removed:
            self._timer.start()

    def show_pool(self, conn: Connection | None, pool: str | None) -> None:
        self.pool = (id(conn), pool) if conn is not None and pool is not None else None
        self.rebuild()

    def set_query(self, text: str) -> None:
        self.query = text
        self.rebuild()

    def set_pool_versions(self, versions: dict[tuple[int, str], int]) -> None:
        self.pool_versions = versions
        if self._rows:
            self.dataChanged.emit(self.index(0, 3), self.index(len(self._rows) - 1, 3))

    def rebuild(self) -> None:
        rows = []
        for conn in self.manager.connections:
            for guest in conn.guests.values():
                mark = guest.desktop
                if mark is None or (self.pool is not None and self.pool != (id(conn), mark.pool)):
                    continue
                if user_matches(guest, self.query):
                    rows.append((conn, guest))
        rows.sort(key=lambda r: (r[1].desktop.pool if r[1].desktop else "", r[1].name.casefold(), r[0].name))
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def desktop_at(self, row: int) -> tuple[Connection, GuestInfo] | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        conn, guest = self._rows[index.row()]
        mark = guest.desktop
        assert mark is not None
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return guest.name
            if column == 1:
                return mark.user or UNASSIGNED
            if column == 2:
                return guest.state_text
            if column == 3:
                target = self.pool_versions.get((id(conn), mark.pool))
                if target is not None and target != mark.version:
                    return f"v{mark.version} (v{target} at next reset)"
                return f"v{mark.version}"
            if column == 4:
                return mark.pool
            return conn.name
        if role == Qt.ItemDataRole.DecorationRole and column == 2:
            return state_icon(guest.state.value)
        return None
