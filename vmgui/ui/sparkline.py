"""An item delegate that draws a cell's recent values as a small line graph under its text."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QObject, QPersistentModelIndex, QPointF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPen, QPolygonF
from PySide6.QtWidgets import QApplication, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from vmgui.ui.roles import HISTORY_ROLE

_TEXT_FLAGS = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_TEXT_MARGIN = 4  # px between the text and the cell's right edge
_GRAPH_MARGIN_X = 1.0  # px the graph keeps off the cell's left and right edges
_GRAPH_MARGIN_Y = 2.0  # px the graph keeps off the cell's top and bottom edges
_LINE_WIDTH = 1.0  # 1 px lines take Qt's fast path: wider ones cost 40 times more
_LINE_ALPHA = 230
_FILL_ALPHA = 56
_BASE_SIZE = QSize(120, 22)  # the size hint for a font 16 px high
_BASE_FONT_HEIGHT = 16
# State flags as plain ints: an operator on PySide's flag enums costs microseconds, several per cell.
_SELECTED = QStyle.StateFlag.State_Selected.value
_ENABLED = QStyle.StateFlag.State_Enabled.value
_ACTIVE = QStyle.StateFlag.State_Active.value

# Pens and brush for one look of a cell: the graph line, the area under it and the text.
_Look = tuple[QPen, QBrush, QPen]


class SparklineDelegate(QStyledItemDelegate):
    """Draws index.data(HISTORY_ROLE), values in 0..1 newest last, as a graph behind the text.

    The graph always holds `samples` slots across the cell width with the newest value at
    the right edge, so it scrolls left as values arrive. Cells without history show only
    their text, right-aligned.
    """

    def __init__(self, parent: QObject | None = None, samples: int = 40) -> None:
        super().__init__(parent)
        if samples < 2:
            raise ValueError(f"a sparkline needs at least 2 samples, not {samples}")
        self._samples = samples
        # Reused on every paint so painting allocates nothing per point.
        self._polygon = QPolygonF()
        self._polygon.reserve(samples + 2)
        self._point = QPointF()
        self._looks: dict[tuple[int, bool, QPalette.ColorGroup], _Look] = {}

    @property
    def samples(self) -> int:
        """How many values fit across the cell."""
        return self._samples

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        state = option.state.value
        rect = option.rect
        selected = bool(state & _SELECTED)

        painter.save()
        if not selected:
            background = index.data(Qt.ItemDataRole.BackgroundRole)
            if isinstance(background, QBrush | QColor):
                painter.fillRect(rect, background)
        # Selection, hover and focus look as in every other cell of the view.
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)

        line_pen, fill_brush, text_pen = self._look(option.palette, state, selected)
        history = index.data(HISTORY_ROLE)
        if history:
            self._draw_graph(painter, rect.x(), rect.y(), rect.width(), rect.height(),
                             history, line_pen, fill_brush)

        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text is not None and text != "":
            text = str(text)
            metrics = option.fontMetrics
            available = rect.width() - 2 * _TEXT_MARGIN
            if metrics.horizontalAdvance(text) > available:
                text = metrics.elidedText(text, Qt.TextElideMode.ElideRight, max(0, available))
            painter.setFont(option.font)
            painter.setPen(text_pen)
            painter.drawText(rect.x() + _TEXT_MARGIN, rect.y(), available, rect.height(),
                             _TEXT_FLAGS, text)
        painter.restore()

    def _draw_graph(
        self,
        painter: QPainter,
        x: int,
        y: int,
        width: int,
        height: int,
        history: Sequence[float],
        line_pen: QPen,
        fill_brush: QBrush,
    ) -> None:
        """The line and the filled area under it for the newest `samples` values."""
        left = x + _GRAPH_MARGIN_X
        right = x + width - _GRAPH_MARGIN_X
        # Half-pixel offsets put a flat line on pixel centres, so it stays crisp.
        top = y + _GRAPH_MARGIN_Y + 0.5
        bottom = y + height - _GRAPH_MARGIN_Y - 0.5
        span = bottom - top
        if right - left < 2 or span < 1:
            return
        step = (right - left) / (self._samples - 1)
        count = len(history)
        first = max(0, count - self._samples)
        shown = count - first

        polygon = self._polygon
        point = self._point
        polygon.clear()
        px = right - (shown - 1) * step
        first_x = px
        if shown == 1:
            # One value: a short flat stroke ending at the right edge.
            first_x = right - step
            point.setX(first_x)
            point.setY(bottom - _clamp(history[first]) * span)
            polygon.append(point)
        for i in range(first, count):
            point.setX(px)
            point.setY(bottom - _clamp(history[i]) * span)
            polygon.append(point)
            px += step
        line_points = polygon.size()

        # The area under the line first, then the line over it.
        point.setX(right)
        point.setY(bottom)
        polygon.append(point)
        point.setX(first_x)
        polygon.append(point)
        # No antialiasing for the fill: its slanted edge hides under the line anyway.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill_brush)
        painter.drawPolygon(polygon)
        polygon.resize(line_points)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(line_pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolyline(polygon)

    def _look(self, palette: QPalette, state: int, selected: bool) -> _Look:
        """Pens and brush for this palette and row state (QStyle.StateFlag bits), made once and then reused."""
        if not state & _ENABLED:
            group = QPalette.ColorGroup.Disabled
        elif not state & _ACTIVE:
            group = QPalette.ColorGroup.Inactive
        else:
            group = QPalette.ColorGroup.Active
        key = (palette.cacheKey(), selected, group)
        look = self._looks.get(key)
        if look is None:
            if len(self._looks) > 32:  # palettes changed many times: forget old looks
                self._looks.clear()
            look = self._make_look(palette, group, selected)
            self._looks[key] = look
        return look

    @staticmethod
    def _make_look(palette: QPalette, group: QPalette.ColorGroup, selected: bool) -> _Look:
        if selected:
            ink = palette.color(group, QPalette.ColorRole.HighlightedText)
            text = ink
        else:
            ink = palette.color(group, QPalette.ColorRole.Highlight)
            text = palette.color(group, QPalette.ColorRole.Text)
        line = QColor(ink)
        line.setAlpha(_LINE_ALPHA)
        fill = QColor(ink)
        fill.setAlpha(_FILL_ALPHA)
        line_pen = QPen(line, _LINE_WIDTH)
        return line_pen, QBrush(fill), QPen(text)

    def sizeHint(
        self,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> QSize:
        metrics = option.fontMetrics
        scale = max(1.0, metrics.height() / _BASE_FONT_HEIGHT)
        width = math.ceil(_BASE_SIZE.width() * scale)
        height = max(_BASE_SIZE.height(), metrics.height() + 6)
        text = index.data(Qt.ItemDataRole.DisplayRole)
        if text is not None:
            width = max(width, metrics.horizontalAdvance(str(text)) + 2 * _TEXT_MARGIN)
        return QSize(width, height)


def _clamp(value: float) -> float:
    """`value` kept within 0..1; NaN counts as 0."""
    if value > 1.0:
        return 1.0
    if value >= 0.0:
        return value
    return 0.0
