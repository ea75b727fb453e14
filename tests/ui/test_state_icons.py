"""Tests for the painted guest and connection state icons and their colours."""

from __future__ import annotations

import itertools

import pytest
from PySide6.QtCore import QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from vmgui.core.domstate import GuestState
from vmgui.ui.state_icons import ICON_SIZES, state_color, state_icon

GUEST_STATES = [
    "running", "paused", "shutoff", "crashed", "shutdown", "pmsuspended", "blocked", "nostate",
]
CONNECTION_STATES = ["connected", "connecting", "disconnected"]
ALL_STATES = GUEST_STATES + CONNECTION_STATES


def _image(state: str, size: int) -> QImage:
    return state_icon(state).pixmap(QSize(size, size)).toImage()


def _opaque_pixels(image: QImage) -> int:
    return sum(
        1
        for y in range(image.height())
        for x in range(image.width())
        if image.pixelColor(x, y).alpha() > 128
    )


def test_every_guest_state_has_an_icon() -> None:
    assert {state.value for state in GuestState} == set(GUEST_STATES)


@pytest.mark.parametrize("state", ALL_STATES)
def test_icon_is_painted_at_every_size(qapp: QApplication, state: str) -> None:
    icon = state_icon(state)
    assert not icon.isNull()
    available = {(s.width(), s.height()) for s in icon.availableSizes()}
    for size in ICON_SIZES:
        assert (size, size) in available
        image = _image(state, size)
        assert image.width() == size
        # Visible, but not a filled square: a glyph on a transparent background.
        opaque = _opaque_pixels(image)
        assert size * size * 0.05 < opaque < size * size * 0.9
        assert image.pixelColor(0, 0).alpha() == 0


@pytest.mark.parametrize("size", ICON_SIZES)
def test_icons_differ_between_states(qapp: QApplication, size: int) -> None:
    images = {state: _image(state, size) for state in ALL_STATES}
    for a, b in itertools.combinations(ALL_STATES, 2):
        assert images[a] != images[b], f"{a} and {b} look the same at {size} px"


def test_icons_are_cached(qapp: QApplication) -> None:
    assert state_icon("running").cacheKey() == state_icon("running").cacheKey()


def test_icon_uses_state_colour(qapp: QApplication) -> None:
    for state in ("running", "paused", "crashed", "connected", "disconnected"):
        image = _image(state, 32)
        want = state_color(state)
        colours = {
            image.pixelColor(x, y).rgb()
            for y in range(32)
            for x in range(32)
            if image.pixelColor(x, y).alpha() == 255
        }
        assert want.rgb() in colours, state


def test_state_colours() -> None:
    assert state_color("running").green() > state_color("running").red()
    assert state_color("crashed").red() > state_color("crashed").green()
    assert state_color("paused").red() > state_color("paused").blue()
    assert state_color("disconnected").red() > state_color("disconnected").green()
    colours = {state_color(s).name() for s in ["running", "paused", "shutoff", "crashed"]}
    assert len(colours) == 4
    assert state_color("no such state").isValid()
    # Callers may change the colour they get without changing the next caller's.
    mine = state_color("running")
    mine.setRed(255)
    assert state_color("running") != mine
    assert isinstance(mine, QColor)


def test_unknown_state_falls_back_to_nostate(qapp: QApplication) -> None:
    assert _image("exploded", 16) == _image("nostate", 16)
