"""Small painted icons and colours for guest run states and connection states."""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPainterPath, QPen, QPixmap

ICON_SIZES = (16, 22, 32)
# Double sizes keep 22 and 32 px icons sharp on HiDPI screens (QIcon picks size x ratio).
_PAINTED_SIZES = (*ICON_SIZES, 44, 64)

# One colour per state; the glyph is drawn in it with a darker outline.
_COLORS: dict[str, str] = {
    "running": "#2e9e44",
    "blocked": "#2a8a8a",
    "paused": "#e0a100",
    "shutdown": "#e06c00",
    "shutoff": "#7c7c7c",
    "crashed": "#d0312d",
    "pmsuspended": "#3b7dd8",
    "nostate": "#9a9a9a",
    "connected": "#2e9e44",
    "connecting": "#e0a100",
    "disconnected": "#d0312d",
}
_UNKNOWN_COLOR = "#9a9a9a"

# Painters draw into a square of side `s` (logical pixels) with the fill and outline set.
_Glyph = Callable[[QPainter, float, QColor], None]

_cache: dict[str, QIcon] = {}


def state_color(state: str) -> QColor:
    """The colour that stands for a guest or connection state; grey for states it does not know."""
    return QColor(_COLORS.get(state, _UNKNOWN_COLOR))


def state_icon(state: str) -> QIcon:
    """The icon for a guest state ('running', 'paused'...) or connection state ('connected'...).

    Icons are painted the first time they are asked for, which needs a QGuiApplication;
    states it does not know get the 'nostate' icon.
    """
    key = state if state in _GLYPHS else "nostate"
    icon = _cache.get(key)
    if icon is None:
        if QGuiApplication.instance() is None:
            raise RuntimeError("state icons need a QGuiApplication; create it first")
        icon = _paint_icon(_GLYPHS[key], state_color(key))
        _cache[key] = icon
    return icon


def _paint_icon(glyph: _Glyph, color: QColor) -> QIcon:
    icon = QIcon()
    for size in _PAINTED_SIZES:
        pixmap = QPixmap(size, size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            outline = QPen(color.darker(150), max(1.0, size / 16))
            outline.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(outline)
            painter.setBrush(color)
            glyph(painter, float(size), color)
        finally:
            painter.end()
        icon.addPixmap(pixmap)
    return icon


def _box(s: float, inset: float) -> QRectF:
    """The square `inset` (a fraction of s) in from each edge of the icon."""
    return QRectF(s * inset, s * inset, s * (1 - 2 * inset), s * (1 - 2 * inset))


def _polygon(painter: QPainter, s: float, points: list[tuple[float, float]]) -> None:
    """A closed shape through points given as fractions of the icon size."""
    path = QPainterPath()
    path.moveTo(points[0][0] * s, points[0][1] * s)
    for x, y in points[1:]:
        path.lineTo(x * s, y * s)
    path.closeSubpath()
    painter.drawPath(path)


def _running(painter: QPainter, s: float, color: QColor) -> None:
    _polygon(painter, s, [(0.25, 0.15), (0.85, 0.5), (0.25, 0.85)])


def _blocked(painter: QPainter, s: float, color: QColor) -> None:
    # An hourglass: running, but waiting on something.
    _polygon(painter, s, [(0.22, 0.12), (0.78, 0.12), (0.22, 0.88), (0.78, 0.88)])


def _paused(painter: QPainter, s: float, color: QColor) -> None:
    for left in (0.2, 0.58):
        painter.drawRoundedRect(QRectF(s * left, s * 0.15, s * 0.22, s * 0.7), s * 0.04, s * 0.04)


def _shutoff(painter: QPainter, s: float, color: QColor) -> None:
    box = _box(s, 0.2)
    painter.drawRoundedRect(box, s * 0.06, s * 0.06)


def _crashed(painter: QPainter, s: float, color: QColor) -> None:
    pen = QPen(color, s * 0.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    a, b = s * 0.22, s * 0.78
    painter.drawLine(QPointF(a, a), QPointF(b, b))
    painter.drawLine(QPointF(a, b), QPointF(b, a))


def _shutdown(painter: QPainter, s: float, color: QColor) -> None:
    # A power symbol: an open ring with a bar through its gap.
    pen = QPen(color, s * 0.13, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawArc(_box(s, 0.18), 60 * 16, -300 * 16)  # open at the top
    painter.drawLine(QPointF(s * 0.5, s * 0.1), QPointF(s * 0.5, s * 0.48))


def _pmsuspended(painter: QPainter, s: float, color: QColor) -> None:
    # A crescent moon: asleep.
    moon = QPainterPath()
    moon.addEllipse(_box(s, 0.14))
    bite = QPainterPath()
    bite.addEllipse(QRectF(s * 0.36, s * 0.04, s * 0.62, s * 0.62))
    painter.drawPath(moon.subtracted(bite))


def _nostate(painter: QPainter, s: float, color: QColor) -> None:
    pen = QPen(color, s * 0.1, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawEllipse(_box(s, 0.2))
    painter.drawLine(QPointF(s * 0.36, s * 0.5), QPointF(s * 0.64, s * 0.5))


def _connected(painter: QPainter, s: float, color: QColor) -> None:
    painter.drawEllipse(_box(s, 0.25))


def _connecting(painter: QPainter, s: float, color: QColor) -> None:
    # A ring with a gap: a spinner caught mid-turn.
    pen = QPen(color, s * 0.14, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawArc(_box(s, 0.22), 90 * 16, -290 * 16)
    # The leading end gets a dot so the ring reads as moving.
    angle = math.radians(90 - 290)
    radius = s * 0.28
    centre = QPointF(s * 0.5 + radius * math.cos(angle), s * 0.5 - radius * math.sin(angle))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color.darker(130))
    painter.drawEllipse(centre, s * 0.09, s * 0.09)


def _disconnected(painter: QPainter, s: float, color: QColor) -> None:
    painter.drawEllipse(_box(s, 0.25))
    # A light bar across the dot, so it does not read as 'connected' to colour-blind eyes.
    pen = QPen(QColor("white"), s * 0.1, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    painter.setPen(pen)
    painter.drawLine(QPointF(s * 0.37, s * 0.5), QPointF(s * 0.63, s * 0.5))


_GLYPHS: dict[str, _Glyph] = {
    "running": _running,
    "blocked": _blocked,
    "paused": _paused,
    "shutdown": _shutdown,
    "shutoff": _shutoff,
    "crashed": _crashed,
    "pmsuspended": _pmsuspended,
    "nostate": _nostate,
    "connected": _connected,
    "connecting": _connecting,
    "disconnected": _disconnected,
}
