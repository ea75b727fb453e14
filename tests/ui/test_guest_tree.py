"""The guest tree view: what it repaints when the model's stats or a guest's row change."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtGui import QPaintEvent, QRegion
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from tests.helpers import wait_until
from vmgui.ui.guest_model import Column
from vmgui.ui.main_window import MainWindow


class PaintRecorder(QObject):
    """The regions of the paint events a widget gets."""

    def __init__(self) -> None:
        super().__init__()
        self.region = QRegion()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            assert isinstance(event, QPaintEvent)
            self.region = self.region.united(event.region())
        return False


def repainted_after(window: MainWindow, change: object) -> QRect:
    """The bounding rectangle of what the tree repaints after `change()` is called."""
    viewport = window.tree.viewport()
    QTest.qWait(50)  # earlier repaints are over
    recorder = PaintRecorder()
    viewport.installEventFilter(recorder)
    try:
        assert callable(change)
        change()
        wait_until(lambda: not recorder.region.isEmpty(), what="a repaint")
        QTest.qWait(50)
    finally:
        viewport.removeEventFilter(recorder)
    return recorder.region.boundingRect()


def band(window: MainWindow, *columns: int) -> tuple[int, int]:
    tree = window.tree
    return (min(tree.columnViewportPosition(c) for c in columns),
            max(tree.columnViewportPosition(c) + tree.columnWidth(c) for c in columns))


def stats_changed(window: MainWindow) -> None:
    model = window.model
    parent = model.index(0, 0)
    last = model.rowCount(parent) - 1
    model.dataChanged.emit(model.index(0, Column.CPU, parent), model.index(last, Column.NET, parent))


def test_a_stats_change_repaints_only_the_stats_columns(window: MainWindow, qtbot: QtBot) -> None:
    qtbot.waitExposed(window)
    rect = repainted_after(window, lambda: stats_changed(window))
    left, right = band(window, Column.CPU, Column.MEMORY, Column.DISK, Column.NET)
    assert (rect.left(), rect.right() + 1) == (left, right)
    assert rect.height() == window.tree.viewport().height()  # every visible row of the range


def test_moved_columns_are_repainted_where_they_are(window: MainWindow, qtbot: QtBot) -> None:
    qtbot.waitExposed(window)
    header = window.tree.header()
    header.moveSection(header.visualIndex(Column.NET), 0)  # network first, before the name
    rect = repainted_after(window, lambda: stats_changed(window))
    assert window.tree.columnViewportPosition(Column.NET) == 0
    assert (rect.left(), rect.right() + 1) == band(window, Column.CPU, Column.MEMORY, Column.DISK, Column.NET)


def test_a_guest_change_repaints_its_whole_row(window: MainWindow, qtbot: QtBot) -> None:
    qtbot.waitExposed(window)
    model = window.model
    parent = model.index(0, 0)
    row = window.tree.visualRect(model.index(2, Column.NAME, parent))
    rect = repainted_after(window, lambda: model.dataChanged.emit(model.index(2, Column.NAME, parent),
                                                                  model.index(2, Column.TAGS, parent)))
    assert rect.top() <= row.top() and rect.bottom() >= row.bottom()
    assert rect.left() <= row.left() and rect.right() >= window.tree.viewport().width() - 1
