"""Tests for SparklineDelegate: the graph and text it really paints, checked pixel by pixel."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QImage,
    QPainter,
    QPalette,
    QStandardItem,
    QStandardItemModel,
)
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionViewItem, QTreeView

from vmgui.ui import roles
from vmgui.ui.roles import HISTORY_ROLE
from vmgui.ui.sparkline import SparklineDelegate

WIDTH, HEIGHT = 200, 40
# The cell sits inside a white margin so drawing outside it would show.
MARGIN = 10
CELL = QRect(MARGIN, MARGIN, WIDTH, HEIGHT)

Pixel = tuple[int, int, int]


def _palette() -> QPalette:
    palette = QPalette()
    palette.setColor(QPalette.ColorRole.Base, QColor("white"))
    palette.setColor(QPalette.ColorRole.Text, QColor("black"))
    palette.setColor(QPalette.ColorRole.Highlight, QColor(0, 0, 255))
    palette.setColor(QPalette.ColorRole.HighlightedText, QColor("white"))
    return palette


def _render(
    history: Sequence[float] | None,
    text: str = "42%",
    *,
    selected: bool = False,
    samples: int = 40,
) -> QImage:
    model = QStandardItemModel()
    item = QStandardItem(text)
    item.setData(history, HISTORY_ROLE)
    model.appendRow(item)
    delegate = SparklineDelegate(samples=samples)

    image = QImage(WIDTH + 2 * MARGIN, HEIGHT + 2 * MARGIN, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    option = QStyleOptionViewItem()
    option.rect = CELL
    option.palette = _palette()
    option.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Active
    if selected:
        option.state |= QStyle.StateFlag.State_Selected
    painter = QPainter(image)
    try:
        delegate.paint(painter, option, model.index(0, 0))
    finally:
        painter.end()
    return image


def _pixels(image: QImage, xs: range, ys: range) -> list[Pixel]:
    out = []
    for y in ys:
        for x in xs:
            color = image.pixelColor(x, y)
            out.append((color.red(), color.green(), color.blue()))
    return out


def _is_line(p: Pixel) -> bool:
    """The strong blue of the graph line (not the pale fill under it)."""
    r, g, b = p
    return b > 200 and r < 110 and g < 110


def _is_bluish(p: Pixel) -> bool:
    """Any trace of the graph: line or fill."""
    r, g, b = p
    return b - max(r, g) > 20


def _is_text(p: Pixel) -> bool:
    r, g, b = p
    return max(r, g, b) < 120


def _count(image: QImage, xs: range, ys: range, test: Callable[[Pixel], bool]) -> int:
    return sum(1 for p in _pixels(image, xs, ys) if test(p))


# Column bands of the cell, in image coordinates.
LEFT = range(MARGIN + 5, MARGIN + WIDTH // 3)
RIGHT = range(MARGIN + WIDTH - WIDTH // 4, MARGIN + WIDTH - 2)
ALL_X = range(MARGIN, MARGIN + WIDTH)
# Row bands: near the top and near the bottom of the graph area.
TOP = range(MARGIN, MARGIN + 6)
BOTTOM = range(MARGIN + HEIGHT - 6, MARGIN + HEIGHT)
ALL_Y = range(MARGIN, MARGIN + HEIGHT)


@pytest.fixture
def app(qapp: QApplication) -> QApplication:
    return qapp


def test_roles_are_distinct_user_roles() -> None:
    values = [roles.HISTORY_ROLE, roles.SORT_ROLE, roles.GUEST_ROLE, roles.CONNECTION_ROLE]
    assert len(set(values)) == 4
    assert all(v > Qt.ItemDataRole.UserRole for v in values)


def test_step_history_draws_low_left_and_high_right(app: QApplication) -> None:
    image = _render([0.0] * 20 + [1.0] * 20)
    assert _count(image, RIGHT, TOP, _is_line) > 10
    assert _count(image, RIGHT, BOTTOM, _is_line) == 0
    assert _count(image, LEFT, BOTTOM, _is_line) > 10
    assert _count(image, LEFT, TOP, _is_line) == 0
    # The area under the high part is filled, lightly: bluish but not line coloured.
    middle = range(MARGIN + HEIGHT // 2 - 2, MARGIN + HEIGHT // 2 + 2)
    fill_xs = range(MARGIN + WIDTH // 2 + 10, MARGIN + WIDTH // 2 + 30)
    fill = _pixels(image, fill_xs, middle)
    assert all(_is_bluish(p) and not _is_line(p) for p in fill)
    # Under the low part, nothing is filled.
    assert _count(image, LEFT, middle, _is_bluish) == 0


def test_empty_history_draws_only_text(app: QApplication) -> None:
    nothing: list[Sequence[float] | None] = [None, []]
    for history in nothing:
        image = _render(history)
        assert _count(image, ALL_X, ALL_Y, _is_bluish) == 0
        assert _count(image, RIGHT, ALL_Y, _is_text) > 10


def test_text_is_drawn_right_aligned(app: QApplication) -> None:
    image = _render([0.5] * 40, "77%")
    assert _count(image, RIGHT, ALL_Y, _is_text) > 10
    assert _count(image, LEFT, ALL_Y, _is_text) == 0
    no_text = _render([0.5] * 40, "")
    assert _count(no_text, ALL_X, ALL_Y, _is_text) == 0


def test_newest_sample_is_at_the_right_edge(app: QApplication) -> None:
    # Ten samples of 40: the line covers only the right quarter of the cell.
    image = _render([1.0] * 10)
    assert _count(image, RIGHT, TOP, _is_line) > 10
    assert _count(image, range(MARGIN, MARGIN + WIDTH // 2), ALL_Y, _is_bluish) == 0


def test_only_the_newest_samples_are_shown(app: QApplication) -> None:
    # 60 old highs scroll off; the 40 newest lows fill the cell.
    image = _render([1.0] * 60 + [0.0] * 40)
    assert _count(image, ALL_X, TOP, _is_line) == 0
    assert _count(image, LEFT, BOTTOM, _is_line) > 10
    assert _count(image, RIGHT, BOTTOM, _is_line) > 10


def test_sample_count_sets_the_time_scale(app: QApplication) -> None:
    # With 10 slots, 10 highs span the whole width.
    image = _render([1.0] * 10, samples=10)
    assert _count(image, LEFT, TOP, _is_line) > 10
    assert _count(image, RIGHT, TOP, _is_line) > 10


def test_values_are_clamped_inside_the_cell(app: QApplication) -> None:
    image = _render([5.0, -3.0, float("nan"), 1e9, -1e9] * 8, "")
    outside = 0
    for y in range(image.height()):
        for x in range(image.width()):
            if not CELL.contains(x, y) and image.pixelColor(x, y) != QColor("white"):
                outside += 1
    assert outside == 0
    assert _count(image, ALL_X, TOP, _is_line) > 0
    assert _count(image, ALL_X, BOTTOM, _is_line) > 0


def test_single_sample_draws_a_stroke(app: QApplication) -> None:
    image = _render([1.0], "")
    assert _count(image, RIGHT, TOP, _is_line) > 0


def test_selected_row_uses_highlight_colours(app: QApplication) -> None:
    image = _render([0.0] * 20 + [1.0] * 20, selected=True)

    def whitish(p: Pixel) -> bool:
        return min(p) > 200

    # The line is drawn in HighlightedText over the Highlight background.
    assert _count(image, RIGHT, TOP, whitish) > 10
    assert _count(image, LEFT, TOP, whitish) == 0
    r, g, b = _pixels(image, range(MARGIN + 20, MARGIN + 21), range(MARGIN + 20, MARGIN + 21))[0]
    assert (r, g, b) == (0, 0, 255)
    # The text is white, not black: no dark pixels anywhere in the cell.
    assert _count(image, ALL_X, ALL_Y, _is_text) == 0
    middle = range(MARGIN + 10, MARGIN + HEIGHT - 10)
    assert _count(image, RIGHT, middle, whitish) > 10


def test_size_hint_scales_with_font(app: QApplication) -> None:
    model = QStandardItemModel()
    model.appendRow(QStandardItem("12%"))
    delegate = SparklineDelegate()
    option = QStyleOptionViewItem()
    hint = delegate.sizeHint(option, model.index(0, 0))
    assert hint.width() >= 120
    assert hint.height() >= 22
    assert hint.height() >= option.fontMetrics.height()

    big = QStyleOptionViewItem()
    font = big.font
    font.setPointSize(font.pointSize() * 3)
    big.font = font
    big.fontMetrics = QFontMetrics(font)
    big_hint = delegate.sizeHint(big, model.index(0, 0))
    assert big_hint.width() > hint.width()
    assert big_hint.height() > hint.height()


def test_samples_must_allow_a_line() -> None:
    with pytest.raises(ValueError):
        SparklineDelegate(samples=1)
    assert SparklineDelegate(samples=2).samples == 2


def test_paints_inside_a_real_tree_view(app: QApplication) -> None:
    model = QStandardItemModel(0, 2)
    for i in range(5):
        usage = QStandardItem(f"{i * 10}%")
        usage.setData([j / 39 for j in range(40)], HISTORY_ROLE)
        model.appendRow([QStandardItem(f"guest{i}"), usage])
    view = QTreeView()
    view.setModel(model)
    delegate = SparklineDelegate(view)
    view.setItemDelegateForColumn(1, delegate)
    view.setPalette(_palette())
    view.resize(QSize(420, 200))
    view.setColumnWidth(0, 150)
    view.show()
    app.processEvents()

    image = view.viewport().grab().toImage()
    rect = view.visualRect(model.index(2, 1))
    assert rect.isValid()
    xs = range(rect.left(), rect.right())
    ys = range(rect.top(), rect.bottom() + 1)
    assert _count(image, xs, ys, _is_line) > 20
    # A rising history: the left of the cell is drawn lower than its right.
    left_ys = [y for y in ys for x in range(rect.left() + 2, rect.left() + 20)
               if _is_line(_pixels(image, range(x, x + 1), range(y, y + 1))[0])]
    right_ys = [y for y in ys for x in range(rect.right() - 20, rect.right() - 2)
                if _is_line(_pixels(image, range(x, x + 1), range(y, y + 1))[0])]
    assert left_ys and right_ys
    assert min(left_ys) > min(right_ys)
    view.close()
