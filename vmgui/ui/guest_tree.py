"""The guest list view: a QTreeView set up for the guest model that repaints no more than changed."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView, QWidget

from vmgui.core.workers import gui_busy
from vmgui.ui.guest_model import SPARKLINE_COLUMNS, Column, GuestTreeModel
from vmgui.ui.sparkline import SparklineDelegate

COLUMN_WIDTHS = ((Column.NAME, 240), (Column.STATE, 150), (Column.CPU, 110), (Column.MEMORY, 150),
                 (Column.DISK, 110), (Column.NET, 110))


class GuestTree(QTreeView):
    """Connections and their guests, sortable, multi-select by rows.

    Painting is the GUI thread's main cost with thousands of guests (bench/scale.py), so a stats
    tick repaints only the stats columns (see dataChanged), and worker threads pause their Python
    work while the tree lays out and paints (see gui_busy).
    """

    def __init__(self, model: GuestTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A viewport made here is one PySide knows. The one QAbstractScrollArea makes in C++ is
        # unknown to it, and the first viewport() call then loads every QWidget subclass's Python
        # type to find its class: 15 ms on the GUI thread, at the first stats tick (bench/scale.py).
        self.setViewport(QWidget())
        self.setModel(model)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSortingEnabled(True)
        self.sortByColumn(Column.NAME, Qt.SortOrder.AscendingOrder)
        self.setExpandsOnDoubleClick(True)
        self.sparklines = SparklineDelegate(self)
        for column in SPARKLINE_COLUMNS:
            self.setItemDelegateForColumn(column, self.sparklines)
        header = self.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in COLUMN_WIDTHS:
            header.resizeSection(column, width)

    def dataChanged(self, top_left: QModelIndex | QPersistentModelIndex,
                    bottom_right: QModelIndex | QPersistentModelIndex, roles: Sequence[int] = ()) -> None:
        """Repaint only the changed columns when many rows change (a stats tick).

        For a range of rows QTreeView repaints from the range's left edge to the viewport's right edge,
        and often the whole viewport (measured with Qt 6.11), which makes a stats tick paint every
        column. A band of the changed columns over the viewport's height covers every visible row of
        the range and needs no layout (asking a row's position would force a pending one at once).
        The name column keeps Qt's handling: it also refreshes the row's expand arrow.
        """
        if top_left.row() == bottom_right.row() or top_left.column() == 0:
            super().dataChanged(top_left, bottom_right, list(roles))
            return
        spans = [(self.columnViewportPosition(c), self.columnWidth(c))
                 for c in range(top_left.column(), bottom_right.column() + 1) if not self.isColumnHidden(c)]
        if spans:  # columns may have been moved: the band spans all of them
            left = min(x for x, _ in spans)
            right = max(x + width for x, width in spans)
            self.viewport().update(QRect(left, 0, right - left, self.viewport().height()))

    def paintEvent(self, event: QPaintEvent) -> None:
        with gui_busy():  # the pending layout runs here too: both call into the Python model per row
            super().paintEvent(event)
