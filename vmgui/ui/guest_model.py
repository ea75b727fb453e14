"""The tree of connections and their guests as one QAbstractItemModel that filters and sorts itself.

Sorting and filtering live here, in Python keys and bisect, rather than in a QSortFilterProxyModel:
a proxy calls a Python lessThan() tens of thousands of times while 5,000 rows arrive and maps every
painted cell through Python again (measured in bench/scale.py: 2 s of GUI time for the first list).
data() is on the paint path (about 7 roles for each visible cell), so it answers unserved roles first.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from vmgui.core.connection import Connection, GuestChanges
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.guest import GuestInfo
from vmgui.core.observable import Callbacks
from vmgui.core.stats import GuestStats
from vmgui.core.workers import gui_busy
from vmgui.ui import formatting
from vmgui.ui.guest_filter import matches
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


HEADERS = ("Name", "State", "CPU", "Memory", "Disk I/O", "Network I/O", "Tags")
STATS_COLUMNS = (Column.CPU, Column.MEMORY, Column.DISK, Column.NET)
SPARKLINE_COLUMNS = (Column.CPU, Column.MEMORY)  # disk and network show their rate as text
STATS_FLUSH_MS = 150  # stats of all connections that tick together reach the view as one repaint
# Connection rows repaint a moment after their state changes: a dataChanged that arrives while the
# view's layout is pending forces that layout at once (30 ms for 5,000 rows), once per change.
CONNECTION_FLUSH_MS = 40

_N_COLUMNS = len(Column)
_NAME, _STATE, _CPU, _MEMORY, _DISK, _NET, _TAGS = range(_N_COLUMNS)
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_HISTORY, _SORT, _GUEST, _CONNECTION = int(HISTORY_ROLE), int(SORT_ROLE), int(GUEST_ROLE), int(CONNECTION_ROLE)
_SERVED = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _HISTORY, _SORT, _GUEST, _CONNECTION, _ALIGNMENT})
_STATS_ROLES = [Qt.ItemDataRole.DisplayRole, HISTORY_ROLE, SORT_ROLE, Qt.ItemDataRole.ToolTipRole]


@dataclass
class _ConnNode:
    """A connection row and its visible guest rows (filtered and sorted), as UUIDs."""

    id: int
    conn: Connection
    shown: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)

    def reindex(self) -> None:
        self.rows = {uuid: i for i, uuid in enumerate(self.shown)}


class _Reversed:
    """Wraps a sort key so that ascending sort gives descending order (bisect needs one direction)."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return bool(other.key < self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


class GuestTreeModel(QAbstractItemModel):
    """Top-level rows are connections, their children the guests that match the query, in sort order.

    internalId: 0 for a connection row, else the id of the connection node the guest row belongs to.
    """

    guests_updated = Signal()  # a guest was added, removed or changed (not emitted for stats)

    def __init__(self, manager: ConnectionManager, parent: Any = None) -> None:
        super().__init__(parent)
        self._nodes: list[_ConnNode] = []
        self._by_id: dict[int, _ConnNode] = {}
        self._next_id = 1
        self._query = ""
        self._sort_column = _NAME
        self._descending = False
        self._stats_dirty: set[int] = set()
        self._stats_timer = QTimer(self, singleShot=True, interval=STATS_FLUSH_MS)
        self._stats_timer.timeout.connect(self._flush_stats)
        self._conn_dirty: set[int] = set()
        self._conn_timer = QTimer(self, singleShot=True, interval=CONNECTION_FLUSH_MS)
        self._conn_timer.timeout.connect(self._flush_connections)
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
        if row < 0 or not 0 <= column < _N_COLUMNS:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._nodes) else QModelIndex()
        prow = parent.row()
        if parent.internalId() != 0 or prow >= len(self._nodes):
            return QModelIndex()
        node = self._nodes[prow]
        return self.createIndex(row, column, node.id) if row < len(node.shown) else QModelIndex()

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node_id = index.internalId()
        if node_id == 0:
            return QModelIndex()
        node = self._by_id.get(node_id)
        return self.createIndex(self._nodes.index(node), 0, 0) if node is not None else QModelIndex()

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        if not parent.isValid():
            return len(self._nodes)
        if parent.internalId() == 0 and parent.column() == 0 and parent.row() < len(self._nodes):
            return len(self._nodes[parent.row()].shown)
        return 0

    def hasChildren(self, parent: AnyIndex = QModelIndex()) -> bool:
        if not parent.isValid():
            return bool(self._nodes)
        row = parent.row()  # called for every row on each layout: no detour through rowCount()
        return parent.internalId() == 0 and row < len(self._nodes) and bool(self._nodes[row].shown)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return _N_COLUMNS

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = _DISPLAY) -> Any:
        if role == _DISPLAY and orientation == Qt.Orientation.Horizontal and 0 <= section < _N_COLUMNS:
            return HEADERS[section]
        return None

    # flags() is not overridden: Qt's default (enabled + selectable) is what every row needs, and a
    # Python override costs two calls per row each time the view lays out 5,000 rows.

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
        if node is None or index.row() >= len(node.shown):
            return None
        return node.conn.guests.get(node.shown[index.row()])

    def index_of_guest(self, conn: Connection, uuid: str, column: int = 0) -> QModelIndex:
        node = self._node_of(conn)
        if node is None or uuid not in node.rows:
            return QModelIndex()
        return self.createIndex(node.rows[uuid], column, node.id)

    def shown_count(self) -> int:
        return sum(len(n.shown) for n in self._nodes)

    def _node_of(self, conn: Connection) -> _ConnNode | None:
        return next((n for n in self._nodes if n.conn is conn), None)

    # ---- data -----------------------------------------------------------------------------------

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        if role not in _SERVED or not index.isValid():
            return None
        node_id = index.internalId()
        column = index.column()
        if node_id == 0:
            row = index.row()
            return self._connection_data(self._nodes[row].conn, column, role) if row < len(self._nodes) else None
        node = self._by_id.get(node_id)
        row = index.row()
        if node is None or row >= len(node.shown):
            return None
        uuid = node.shown[row]
        guest = node.conn.guests.get(uuid)
        if guest is None:
            return None
        if role == _GUEST:
            return guest
        if role == _CONNECTION:
            return node.conn
        if column == _NAME:
            if role == _DISPLAY:
                return guest.name
            if role == _DECORATION:
                return state_icon(guest.state.value)
            if role == _TOOLTIP:
                return formatting.guest_tooltip(guest)
            return guest.name.casefold() if role == _SORT else None
        if column == _STATE:
            if role in (_DISPLAY, _TOOLTIP):
                return guest.state_text
            return guest.state.label if role == _SORT else None
        if column == _TAGS:
            if role in (_DISPLAY, _TOOLTIP):
                return ", ".join(guest.tags)
            return ", ".join(guest.tags).casefold() if role == _SORT else None
        if role == _DECORATION:
            return None
        if role == _ALIGNMENT:
            return _RIGHT if column in (_DISK, _NET) else None
        if not guest.state.is_active:
            return -1.0 if role == _SORT else None
        st = node.conn.stats.get(uuid)
        if column == _MEMORY and role == _DISPLAY and (st is None or st.rates.memory_used_kib is None):
            return formatting.size_kib(guest.memory_kib)  # no guest memory stats: show the allocation
        return _stats_data(st, column, role)

    def _connection_data(self, conn: Connection, column: int, role: int) -> Any:
        if role == _CONNECTION:
            return conn
        if column == _NAME:
            if role == _DISPLAY:
                return conn.name
            if role == _DECORATION:
                return state_icon(conn.state.value)
            if role == _TOOLTIP:
                return f"{conn.uri}\n{conn.status_text}"
        elif column == _STATE and role in (_DISPLAY, _TOOLTIP):
            return conn.status_text
        return None

    # ---- sorting and filtering --------------------------------------------------------------------

    @property
    def query(self) -> str:
        return self._query

    def set_query(self, text: str) -> None:
        """Show only guests whose name, title, state or tags match every word (see guest_filter)."""
        if text != self._query:
            self._query = text
            self._relayout(self._nodes)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < _N_COLUMNS:
            return
        self._sort_column = column
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._relayout(self._nodes)

    def _key_func(self, node: _ConnNode) -> Callable[[str], Any]:
        """Sort key of a guest UUID for the current column; ties go by name then UUID (stable order)."""
        guests, stats = node.conn.guests, node.conn.stats
        column = self._sort_column

        def primary(uuid: str, g: GuestInfo) -> Any:
            if column == _NAME:
                return ""
            if column == _STATE:
                return g.state.label
            if column == _TAGS:
                return ", ".join(g.tags).casefold()
            st = stats.get(uuid) if g.state.is_active else None
            value = _stats_data(st, column, _SORT) if st is not None else -1.0
            return value if value is not None else -1.0

        def key(uuid: str) -> tuple[Any, ...]:
            g = guests[uuid]
            return (primary(uuid, g), g.name.casefold(), uuid)

        if self._descending:
            return lambda uuid: _Reversed(key(uuid))
        return key

    def _wanted(self, node: _ConnNode) -> list[str]:
        query = self._query
        guests = node.conn.guests
        uuids: Iterable[str] = guests if not query.strip() else (u for u, g in guests.items() if matches(g, query))
        return sorted(uuids, key=self._key_func(node))

    def _relayout(self, nodes: Iterable[_ConnNode], *, only_if_changed: bool = False) -> None:
        """Recompute the shown rows of these connections (re-filter, re-sort) as one layout change."""
        wanted = {node.id: self._wanted(node) for node in nodes}
        if only_if_changed and all(self._by_id[i].shown == rows for i, rows in wanted.items()):
            return
        self.layoutAboutToBeChanged.emit()  # PySide exposes only the overload without parents
        old = self.persistentIndexList()
        remembered = []
        for idx in old:
            node = self._by_id.get(idx.internalId()) if idx.internalId() != 0 else None
            uuid = node.shown[idx.row()] if node is not None and idx.row() < len(node.shown) else None
            remembered.append((node, uuid))
        for node_id, rows in wanted.items():
            node = self._by_id[node_id]
            node.shown = rows
            node.reindex()
        new = []
        for idx, (node, uuid) in zip(old, remembered, strict=True):
            if node is None:
                new.append(idx if idx.internalId() == 0 else QModelIndex())
            elif uuid is not None and uuid in node.rows:
                new.append(self.createIndex(node.rows[uuid], idx.column(), node.id))
            else:
                new.append(QModelIndex())
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _position(self, node: _ConnNode, uuid: str, shown: list[str]) -> int:
        key = self._key_func(node)
        return bisect.bisect_left(shown, key(uuid), key=key)

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
        self._stats_dirty.discard(node.id)
        mine = (conn.state_changed, conn.guests_changed, conn.stats_updated)
        for pair in [p for p in self._subscriptions if p[0] in mine]:
            self._subscriptions.remove(pair)
            pair[0].disconnect(pair[1])

    def refresh_connections(self) -> None:
        """Repaint the connection rows (their 'retrying in N s' text counts down)."""
        for node in self._nodes:
            self._connection_changed(node)

    def _connection_changed(self, node: _ConnNode) -> None:
        self._conn_dirty.add(node.id)
        if not self._conn_timer.isActive():
            self._conn_timer.start()

    def _flush_connections(self) -> None:
        dirty, self._conn_dirty = self._conn_dirty, set()
        for node_id in dirty:
            node = self._by_id.get(node_id)
            if node is not None:
                row = self._nodes.index(node)
                self.dataChanged.emit(self.createIndex(row, 0, 0), self.createIndex(row, _N_COLUMNS - 1, 0))

    def _guests_changed(self, node: _ConnNode, changes: GuestChanges) -> None:
        if node.id not in self._by_id:
            return
        with gui_busy():  # the views' row handlers call back into Python per row
            self._apply_changes(node, changes)

    def _apply_changes(self, node: _ConnNode, changes: GuestChanges) -> None:
        parent = self.createIndex(self._nodes.index(node), 0, 0)
        if changes.removed:
            self._remove_rows(node, parent, [u for u in changes.removed if u in node.rows])
        query = self._query
        new = [g.uuid for g in changes.added if g.uuid not in node.rows and matches(g, query)]
        if new and not node.shown:  # the first load: one sorted block
            new.sort(key=self._key_func(node))
            self.beginInsertRows(parent, 0, len(new) - 1)
            node.shown = new
            node.reindex()
            self.endInsertRows()
        elif len(new) > 32:  # many at once: one re-sort beats many single inserts
            self._relayout([node])
        else:
            for uuid in new:
                self._insert_row(node, parent, uuid)
        self._apply_updates(node, parent, changes.updated)
        self.guests_updated.emit()

    def _apply_updates(self, node: _ConnNode, parent: QModelIndex, updated: Iterable[GuestInfo]) -> None:
        """Changed guests may now (not) match the query or belong elsewhere in the sort order."""
        query = self._query
        changed: list[str] = []
        for guest in updated:
            uuid = guest.uuid
            wanted, row = matches(guest, query), node.rows.get(uuid)
            if row is None:
                if wanted:
                    self._insert_row(node, parent, uuid)
                continue
            if not wanted:
                self._remove_rows(node, parent, [uuid])
                continue
            self._move_into_place(node, parent, uuid)  # its sort key may have changed
            changed.append(uuid)
        changed_rows = [node.rows[u] for u in changed if u in node.rows]  # after all moves
        if changed_rows:
            self.dataChanged.emit(self.createIndex(min(changed_rows), 0, node.id),
                                  self.createIndex(max(changed_rows), _N_COLUMNS - 1, node.id))

    def _insert_row(self, node: _ConnNode, parent: QModelIndex, uuid: str) -> None:
        pos = self._position(node, uuid, node.shown)
        self.beginInsertRows(parent, pos, pos)
        node.shown.insert(pos, uuid)
        node.reindex()
        self.endInsertRows()

    def _move_into_place(self, node: _ConnNode, parent: QModelIndex, uuid: str) -> None:
        row = node.rows[uuid]
        others = node.shown[:row] + node.shown[row + 1:]
        pos = self._position(node, uuid, others)
        if pos == row:
            return
        self.beginMoveRows(parent, row, row, parent, pos if pos < row else pos + 1)
        node.shown = [*others[:pos], uuid, *others[pos:]]
        node.reindex()
        self.endMoveRows()

    def _remove_rows(self, node: _ConnNode, parent: QModelIndex, uuids: Iterable[str]) -> None:
        rows = sorted((node.rows[u] for u in uuids if u in node.rows), reverse=True)
        while rows:  # remove contiguous runs from the bottom up, one begin/end pair per run
            last = first = rows.pop(0)
            while rows and rows[0] == first - 1:
                first = rows.pop(0)
            self.beginRemoveRows(parent, first, last)
            del node.shown[first:last + 1]
            node.reindex()
            self.endRemoveRows()

    def _stats_updated(self, node: _ConnNode) -> None:
        if node.id in self._by_id:
            self._stats_dirty.add(node.id)
            if not self._stats_timer.isActive():
                self._stats_timer.start()

    def _flush_stats(self) -> None:
        """One pass for every connection whose stats arrived: re-sort if sorted by a stats column,
        else repaint the stats cells; all in one event-loop turn, so the view paints once."""
        nodes = [self._by_id[i] for i in self._stats_dirty if i in self._by_id]
        self._stats_dirty.clear()
        if self._sort_column in STATS_COLUMNS:
            self._relayout(nodes, only_if_changed=True)
        for node in nodes:
            if node.shown:
                self.dataChanged.emit(self.createIndex(0, _CPU, node.id),
                                      self.createIndex(len(node.shown) - 1, _NET, node.id), _STATS_ROLES)


def _stats_data(st: GuestStats | None, column: int, role: int) -> Any:
    if st is None:
        return -1.0 if role == _SORT else None
    r = st.rates
    if column == _CPU:
        value, series, scale = r.cpu_percent, st.cpu, 100.0
    elif column == _MEMORY:
        value, series, scale = r.memory_percent, st.memory, 100.0
    elif column == _DISK:
        value, series, scale = r.disk_bps, st.disk, max(st.disk, default=0.0)
    elif column == _NET:
        value, series, scale = r.net_bps, st.net, max(st.net, default=0.0)
    else:
        return None
    if role == _DISPLAY:
        if column == _CPU:
            return formatting.percent(value)
        if column == _MEMORY:
            return formatting.memory(r.memory_used_kib, st.last.memory_total_kib)
        return formatting.rate(value or 0.0)
    if role == _SORT:
        return float(value) if value is not None else -1.0
    if role == _HISTORY:
        if column in (_CPU, _MEMORY):
            return [v / scale for v in series] if scale > 0 else [0.0] * len(series)
        return None
    if role == _TOOLTIP:
        return formatting.stats_tooltip(("", "", "cpu", "memory", "disk", "net")[column], r)
    return None


def _unsubscribe(subscriptions: list[tuple[Callbacks[Any], Callable[..., object]]]) -> None:
    while subscriptions:
        callbacks, listener = subscriptions.pop()
        callbacks.disconnect(listener)
