"""The tree of connections and their guests as a QAbstractItemModel, fed by core's callbacks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt

from vmgui.core.connection import Connection, GuestChanges
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.guest import GuestInfo
from vmgui.core.observable import Callbacks
from vmgui.core.stats import GuestStats
from vmgui.ui import formatting
from vmgui.ui.roles import CONNECTION_ROLE, GUEST_ROLE, HISTORY_ROLE, SORT_ROLE
from vmgui.ui.state_icons import state_icon

AnyIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    NAME = 0
    STATE = 1
    CPU = 2
    MEMORY = 3
    DISK = 4
    NET = 5
    TAGS = 6


HEADERS = {
    Column.NAME: "Name", Column.STATE: "State", Column.CPU: "CPU", Column.MEMORY: "Memory",
    Column.DISK: "Disk I/O", Column.NET: "Network I/O", Column.TAGS: "Tags",
}
STATS_COLUMNS = (Column.CPU, Column.MEMORY, Column.DISK, Column.NET)


@dataclass
class _ConnNode:
    """A connection row and the order of its guest rows."""

    id: int
    conn: Connection
    uuids: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def reindex(self) -> None:
        self.rows = {uuid: i for i, uuid in enumerate(self.uuids)}


class GuestTreeModel(QAbstractItemModel):
    """Top-level rows are connections, their children the guests. internalId: 0 for a connection
    row, else the id of the connection node the guest row belongs to."""

    def __init__(self, manager: ConnectionManager, parent: Any = None) -> None:
        super().__init__(parent)
        self._nodes: list[_ConnNode] = []
        self._by_id: dict[int, _ConnNode] = {}
        self._next_id = 1
        self._manager = manager
        # Every subscription to core, so they can all be dropped when Qt deletes the model: the
        # closure below must not touch `self`, whose C++ half is gone by then.
        self._subscriptions: list[tuple[Callbacks[Any], Callable[..., object]]] = []
        subscriptions = self._subscriptions
        self.destroyed.connect(lambda *_: _unsubscribe(subscriptions))
        for conn in manager.connections:
            self._add_connection(conn)
        self._subscribe(manager.connection_added, self._add_connection)
        self._subscribe(manager.connection_removed, self._remove_connection)

    def _subscribe(self, callbacks: Callbacks[Any], listener: Callable[..., object]) -> None:
        callbacks.connect(listener)
        self._subscriptions.append((callbacks, listener))

    def detach(self) -> None:
        """Stop following core (the window is closing)."""
        _unsubscribe(self._subscriptions)

    # ---- structure ------------------------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:
        if column < 0 or column >= len(Column) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._nodes) else QModelIndex()
        if parent.internalId() != 0 or parent.row() >= len(self._nodes):
            return QModelIndex()
        node = self._nodes[parent.row()]
        return self.createIndex(row, column, node.id) if row < len(node.uuids) else QModelIndex()

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        node = self._by_id.get(index.internalId())
        if node is None:
            return QModelIndex()
        return self.createIndex(self._nodes.index(node), 0, 0)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._nodes)
        if parent.internalId() == 0 and parent.column() == 0 and parent.row() < len(self._nodes):
            return len(self._nodes[parent.row()].uuids)
        return 0

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[Column(section)]
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    # ---- lookups --------------------------------------------------------------------------------

    def connection_at(self, index: AnyIndex) -> Connection | None:
        """The connection of a connection row or of a guest row."""
        if not index.isValid():
            return None
        if index.internalId() == 0:
            return self._nodes[index.row()].conn if index.row() < len(self._nodes) else None
        node = self._by_id.get(index.internalId())
        return node.conn if node else None

    def guest_at(self, index: AnyIndex) -> GuestInfo | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        node = self._by_id.get(index.internalId())
        if node is None or index.row() >= len(node.uuids):
            return None
        return node.conn.guests.get(node.uuids[index.row()])

    def index_of_guest(self, conn: Connection, uuid: str, column: int = 0) -> QModelIndex:
        node = self._node_of(conn)
        if node is None or uuid not in node.rows:
            return QModelIndex()
        return self.createIndex(node.rows[uuid], column, node.id)

    def index_of_connection(self, conn: Connection, column: int = 0) -> QModelIndex:
        node = self._node_of(conn)
        return self.createIndex(self._nodes.index(node), column, 0) if node else QModelIndex()

    def _node_of(self, conn: Connection) -> _ConnNode | None:
        return next((n for n in self._nodes if n.conn is conn), None)

    # ---- data -----------------------------------------------------------------------------------

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        if index.internalId() == 0:
            conn = self.connection_at(index)
            return self._connection_data(conn, Column(index.column()), role) if conn else None
        node = self._by_id.get(index.internalId())
        if node is None or index.row() >= len(node.uuids):
            return None
        uuid = node.uuids[index.row()]
        guest = node.conn.guests.get(uuid)
        if guest is None:
            return None
        return self._guest_data(node.conn, guest, node.conn.stats.get(uuid), Column(index.column()), role)

    def _connection_data(self, conn: Connection, column: Column, role: int) -> Any:
        if role == CONNECTION_ROLE:
            return conn
        if column is Column.NAME:
            if role == Qt.ItemDataRole.DisplayRole:
                return conn.name
            if role == Qt.ItemDataRole.DecorationRole:
                return state_icon(conn.state.value)
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{conn.uri}\n{conn.status_text}"
        if column is Column.STATE and role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return conn.status_text
        return None

    def _guest_data(self, conn: Connection, guest: GuestInfo, st: GuestStats | None,
                    column: Column, role: int) -> Any:
        if role == GUEST_ROLE:
            return guest
        if role == CONNECTION_ROLE:
            return conn
        if column is Column.NAME:
            if role == Qt.ItemDataRole.DisplayRole:
                return guest.name
            if role == Qt.ItemDataRole.DecorationRole:
                return state_icon(guest.state.value)
            if role == Qt.ItemDataRole.ToolTipRole:
                return formatting.guest_tooltip(guest)
            if role == SORT_ROLE:
                return guest.name.casefold()
            return None
        if column is Column.STATE:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return guest.state_text
            if role == SORT_ROLE:
                return guest.state.label
            return None
        if column is Column.TAGS:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                return ", ".join(guest.tags)
            if role == SORT_ROLE:
                return ", ".join(guest.tags).casefold()
            return None
        if not guest.state.is_active:
            return -1.0 if role == SORT_ROLE else None
        if column is Column.MEMORY and role == Qt.ItemDataRole.DisplayRole and (
                st is None or st.rates.memory_used_kib is None):
            return formatting.size_kib(guest.memory_kib)  # no balloon stats: show the allocation
        return self._stats_data(st, column, role)

    @staticmethod
    def _stats_data(st: GuestStats | None, column: Column, role: int) -> Any:
        if st is None:
            return -1.0 if role == SORT_ROLE else None
        r = st.rates
        if column is Column.CPU:
            value, series, scale = r.cpu_percent, st.cpu, 100.0
            text = formatting.percent(value)
        elif column is Column.MEMORY:
            value, series, scale = r.memory_percent, st.memory, 100.0
            text = formatting.memory(r.memory_used_kib, st.last.memory_total_kib)
        elif column is Column.DISK:
            value, series, scale = r.disk_bps, st.disk, max(st.disk, default=0.0)
            text = formatting.rate(r.disk_bps)
        else:
            value, series, scale = r.net_bps, st.net, max(st.net, default=0.0)
            text = formatting.rate(r.net_bps)
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == SORT_ROLE:
            return float(value) if value is not None else -1.0
        if role == HISTORY_ROLE:
            return [v / scale for v in series] if scale > 0 else [0.0] * len(series)
        if role == Qt.ItemDataRole.ToolTipRole:
            return formatting.stats_tooltip(column.name.lower(), r)
        return None

    # ---- keeping up with core -------------------------------------------------------------------

    def _add_connection(self, conn: Connection) -> None:
        node = _ConnNode(self._next_id, conn)
        self._next_id += 1
        row = len(self._nodes)
        self.beginInsertRows(QModelIndex(), row, row)
        self._nodes.append(node)
        self._by_id[node.id] = node
        self.endInsertRows()
        self._subscribe(conn.state_changed, lambda: self._connection_changed(node))
        self._subscribe(conn.guests_changed, lambda changes: self._guests_changed(node, changes))
        self._subscribe(conn.stats_updated, lambda: self._stats_updated(node))
        if conn.guests:
            self._guests_changed(node, GuestChanges(added=tuple(conn.guests.values())))

    def _remove_connection(self, conn: Connection) -> None:
        node = self._node_of(conn)
        if node is None:
            return
        row = self._nodes.index(node)
        self.beginRemoveRows(QModelIndex(), row, row)
        self._nodes.pop(row)
        del self._by_id[node.id]
        self.endRemoveRows()
        for pair in [p for p in self._subscriptions if p[0] in
                     (conn.state_changed, conn.guests_changed, conn.stats_updated)]:
            self._subscriptions.remove(pair)
            pair[0].disconnect(pair[1])

    def refresh_connections(self) -> None:
        """Repaint the connection rows (their 'retrying in N s' text counts down)."""
        for node in self._nodes:
            self._connection_changed(node)

    def _connection_changed(self, node: _ConnNode) -> None:
        if node.id in self._by_id:
            row = self._nodes.index(node)
            self.dataChanged.emit(self.createIndex(row, 0, 0), self.createIndex(row, len(Column) - 1, 0))

    def _guests_changed(self, node: _ConnNode, changes: GuestChanges) -> None:
        if node.id not in self._by_id:
            return
        parent = self.createIndex(self._nodes.index(node), 0, 0)
        if changes.removed:
            self._remove_rows(node, parent, changes.removed)
        new = [g.uuid for g in changes.added if g.uuid not in node.rows]
        if new:
            first = len(node.uuids)
            self.beginInsertRows(parent, first, first + len(new) - 1)
            node.uuids.extend(new)
            node.rows.update((uuid, first + i) for i, uuid in enumerate(new))
            self.endInsertRows()
        rows = [node.rows[g.uuid] for g in changes.updated if g.uuid in node.rows]
        if rows:
            self.dataChanged.emit(self.createIndex(min(rows), 0, node.id),
                                  self.createIndex(max(rows), len(Column) - 1, node.id))

    def _remove_rows(self, node: _ConnNode, parent: QModelIndex, uuids: tuple[str, ...]) -> None:
        rows = sorted((node.rows[u] for u in uuids if u in node.rows), reverse=True)
        while rows:  # remove contiguous runs from the bottom up, one begin/end pair per run
            last = first = rows.pop(0)
            while rows and rows[0] == first - 1:
                first = rows.pop(0)
            self.beginRemoveRows(parent, first, last)
            del node.uuids[first:last + 1]
            node.reindex()
            self.endRemoveRows()

    def _stats_updated(self, node: _ConnNode) -> None:
        if node.id in self._by_id and node.uuids:
            self.dataChanged.emit(
                self.createIndex(0, Column.CPU, node.id),
                self.createIndex(len(node.uuids) - 1, Column.NET, node.id),
                [Qt.ItemDataRole.DisplayRole, HISTORY_ROLE, SORT_ROLE, Qt.ItemDataRole.ToolTipRole],
            )


def _unsubscribe(subscriptions: list[tuple[Callbacks[Any], Callable[..., object]]]) -> None:
    while subscriptions:
        callbacks, listener = subscriptions.pop()
        callbacks.disconnect(listener)
