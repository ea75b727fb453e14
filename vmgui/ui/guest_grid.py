"""The screens grid: every guest as a tile with a live thumbnail of its screen (running guests) or its state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QSize,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from vmgui.core.connection import Connection, GuestChanges
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.domstate import GuestState
from vmgui.core.guest import GuestInfo
from vmgui.ui.guest_filter import matches
from vmgui.ui.state_icons import state_icon
from vmgui.ui.thumbnails import Thumbnails

AnyIndex = QModelIndex | QPersistentModelIndex
REFRESH_MS = 15_000  # a few pictures a minute per visible running guest
SCROLL_SETTLE_MS = 300
MAX_VISIBLE_SHOTS = 24
_RUNNING = {GuestState.RUNNING, GuestState.BLOCKED, GuestState.PAUSED}
Include = Callable[[GuestInfo], bool]
TileText = Callable[[GuestInfo], str]


class GuestGridModel(QAbstractListModel):
    """All guests of all connections (those `include` accepts, filtered by the search words), sorted by
    connection and name; each tile says `text` of its guest (its name by default)."""

    def __init__(self, manager: ConnectionManager, thumbnails: Thumbnails, parent: Any = None, *,
                 include: Include = lambda _g: True, text: TileText = lambda g: g.name) -> None:
        super().__init__(parent)
        self.manager = manager
        self.thumbnails = thumbnails
        self.include = include
        self.text = text
        self.query = ""
        self._rows: list[tuple[Connection, GuestInfo]] = []
        self._row_of: dict[tuple[int, str], int] = {}
        self._placeholders: dict[str, QPixmap] = {}
        self._stale = True
        self._subscribed: set[int] = set()
        manager.connection_added.connect(self._watch)
        manager.connection_removed.connect(lambda _c: self.mark_stale())
        for conn in manager.connections:
            self._watch(conn)
        thumbnails.changed.connect(self._thumbnail_changed)

    def _watch(self, conn: Connection) -> None:
        if id(conn) not in self._subscribed:
            self._subscribed.add(id(conn))
            conn.guests_changed.connect(self._guests_changed)
        self.mark_stale()

    def _guests_changed(self, changes: GuestChanges) -> None:
        if changes.added or changes.removed:
            self.mark_stale()
            return
        for guest in changes.updated:
            if self.include(guest) != any((id(c), guest.uuid) in self._row_of for c in self.manager.connections):
                self.mark_stale()  # it comes into the grid or leaves it (a desktop given to someone else)
                return
            for conn in self.manager.connections:
                row = self._row_of.get((id(conn), guest.uuid))
                if row is not None and self._rows[row][1].uuid == guest.uuid and conn.guests.get(guest.uuid):
                    self._rows[row] = (conn, conn.guests[guest.uuid])
                    index = self.index(row)
                    self.dataChanged.emit(index, index)

    def mark_stale(self) -> None:
        """Rebuild the rows on the next rebuild_if_stale() (the grid calls it when it is shown)."""
        self._stale = True
        parent = self.parent()
        if isinstance(parent, QWidget) and parent.isVisible():
            QTimer.singleShot(0, self.rebuild_if_stale)

    def set_query(self, text: str) -> None:
        self.query = text
        self.mark_stale()

    def rebuild_if_stale(self) -> None:
        if not self._stale:
            return
        self._stale = False
        rows = [(c, g) for c in self.manager.connections
                for g in sorted(c.guests.values(), key=lambda g: g.name.casefold())
                if self.include(g) and matches(g, self.query)]
        self.beginResetModel()
        self._rows = rows
        self._row_of = {(id(c), g.uuid): i for i, (c, g) in enumerate(rows)}
        self.endResetModel()

    def guest_at(self, index: AnyIndex) -> tuple[Connection, GuestInfo] | None:
        return self._rows[index.row()] if index.isValid() and 0 <= index.row() < len(self._rows) else None

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        conn, guest = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(guest)
        if role == Qt.ItemDataRole.DecorationRole:
            image = self.thumbnails.image(conn, guest.uuid) if guest.state in _RUNNING else None
            return QPixmap.fromImage(image) if image is not None else self._placeholder(guest)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{guest.name} on {conn.name}: {guest.state_text}"
        return None

    def _placeholder(self, guest: GuestInfo) -> QPixmap:
        state = guest.state
        pixmap = self._placeholders.get(state.value)
        if pixmap is None:
            size = self.thumbnails.size
            pixmap = QPixmap(size)
            pixmap.fill(QColor(48, 48, 48))
            painter = QPainter(pixmap)
            icon = state_icon(state.value).pixmap(48, 48)
            painter.drawPixmap((size.width() - 48) // 2, (size.height() - 48) // 2 - 12, icon)
            painter.setPen(QColor(210, 210, 210))
            painter.drawText(QRect(0, size.height() // 2 + 24, size.width(), 24), Qt.AlignmentFlag.AlignCenter,
                             guest.state_text)
            painter.end()
            self._placeholders[state.value] = pixmap
        return pixmap

    def _thumbnail_changed(self, conn: Connection, uuid: str) -> None:
        row = self._row_of.get((id(conn), uuid))
        if row is not None and row < len(self._rows):
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class GuestGrid(QListView):
    """Tiles of guests; while shown, it refreshes the thumbnails of the running guests in view."""

    guest_activated = Signal(object, str)  # Connection, uuid

    def __init__(self, manager: ConnectionManager, thumbnails: Thumbnails, parent: QWidget | None = None,
                 *, refresh_ms: int = REFRESH_MS, include: Include = lambda _g: True,
                 text: TileText = lambda g: g.name, text_lines: int = 1) -> None:
        super().__init__(parent)
        self.setObjectName("guest_grid")
        self.grid_model = GuestGridModel(manager, thumbnails, self, include=include, text=text)
        self.setModel(self.grid_model)
        self.thumbnails = thumbnails
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setSpacing(10)
        self.setIconSize(thumbnails.size)
        self.setGridSize(thumbnails.size + QSize(24, 26 + 18 * text_lines))
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.doubleClicked.connect(self._activated)
        self._timer = QTimer(self, interval=refresh_ms)
        self._timer.timeout.connect(self.refresh_visible)
        self._scroll_timer = QTimer(self, singleShot=True, interval=SCROLL_SETTLE_MS)
        self._scroll_timer.timeout.connect(self.refresh_visible)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self._scroll_timer.start())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.grid_model.rebuild_if_stale()
        self._timer.start()
        QTimer.singleShot(0, self.refresh_visible)

    def hideEvent(self, event: Any) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def visible_guests(self) -> list[tuple[Connection, GuestInfo]]:
        model, area = self.grid_model, self.viewport().rect()
        first = self.indexAt(QPoint(area.left() + 12, area.top() + 12))
        start = first.row() if first.isValid() else 0
        shown: list[tuple[Connection, GuestInfo]] = []
        for row in range(start, model.rowCount()):
            index = model.index(row)
            if not self.visualRect(index).intersects(area):
                if shown:
                    break
                continue
            item = model.guest_at(index)
            if item is not None:
                shown.append(item)
        return shown

    def refresh_visible(self) -> None:
        """New thumbnails for the running guests on screen (at most MAX_VISIBLE_SHOTS)."""
        if not self.isVisible():
            return
        running = [(c, g.uuid) for c, g in self.visible_guests() if g.state in _RUNNING]
        self.thumbnails.refresh(running[:MAX_VISIBLE_SHOTS])

    def selected_guests(self) -> list[tuple[Connection, GuestInfo]]:
        return [item for index in self.selectionModel().selectedIndexes()
                if (item := self.grid_model.guest_at(index)) is not None]

    def _activated(self, index: QModelIndex) -> None:
        item = self.grid_model.guest_at(index)
        if item is not None:
            self.guest_activated.emit(item[0], item[1].uuid)

