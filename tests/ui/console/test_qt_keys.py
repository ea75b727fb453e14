"""Qt key events to (keysym, qnum): native evdev scan codes on xcb/wayland, a US-layout table elsewhere."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from vmgui.ui.console.qt_keys import QT_KEY_TO_EVDEV, QT_KEYPAD_TO_EVDEV, key_for_event

K = Qt.Key
M = Qt.KeyboardModifier
PRESS = QEvent.Type.KeyPress


@pytest.fixture(autouse=True)
def _app(qapp: QApplication) -> None:
    """QKeyEvent needs a QGuiApplication."""


def ev(key: Qt.Key, text: str = "", mods: M = M.NoModifier) -> QKeyEvent:
    return QKeyEvent(PRESS, key, mods, text)


def native(key: Qt.Key, scan: int, keysym: int, text: str = "", mods: M = M.NoModifier) -> QKeyEvent:
    return QKeyEvent(PRESS, key, mods, scan, keysym, 0, text)


@pytest.mark.parametrize(("args", "expected"), [
    ((K.Key_A, "a", M.NoModifier), (0x61, 0x1E)),
    ((K.Key_A, "A", M.ShiftModifier), (0x41, 0x1E)),
    ((K.Key_Z, "z", M.NoModifier), (0x7A, 0x2C)),
    ((K.Key_7, "7", M.NoModifier), (0x37, 0x08)),
    ((K.Key_Space, " ", M.NoModifier), (0x20, 0x39)),
    ((K.Key_Exclam, "!", M.ShiftModifier), (0x21, 0x02)),
    ((K.Key_At, "@", M.ShiftModifier), (0x40, 0x03)),
    ((K.Key_Colon, ":", M.ShiftModifier), (0x3A, 0x27)),
    ((K.Key_QuoteDbl, '"', M.ShiftModifier), (0x22, 0x28)),
    ((K.Key_AsciiTilde, "~", M.ShiftModifier), (0x7E, 0x29)),
    ((K.Key_Bar, "|", M.ShiftModifier), (0x7C, 0x2B)),
    ((K.Key_Question, "?", M.ShiftModifier), (0x3F, 0x35)),
    ((K.Key_BracketLeft, "[", M.NoModifier), (0x5B, 0x1A)),
    ((K.Key_Minus, "-", M.NoModifier), (0x2D, 0x0C)),
    ((K.Key_Escape, "\x1b", M.NoModifier), (0xFF1B, 0x01)),
    ((K.Key_Return, "\r", M.NoModifier), (0xFF0D, 0x1C)),
    ((K.Key_Enter, "\r", M.NoModifier), (0xFF8D, 0x9C)),
    ((K.Key_Backspace, "\x08", M.NoModifier), (0xFF08, 0x0E)),
    ((K.Key_Tab, "\t", M.NoModifier), (0xFF09, 0x0F)),
    ((K.Key_Backtab, "", M.ShiftModifier), (0xFF09, 0x0F)),
    ((K.Key_Delete, "\x7f", M.NoModifier), (0xFFFF, 0xD3)),
    ((K.Key_Insert, "", M.NoModifier), (0xFF63, 0xD2)),
    ((K.Key_Home, "", M.NoModifier), (0xFF50, 0xC7)),
    ((K.Key_End, "", M.NoModifier), (0xFF57, 0xCF)),
    ((K.Key_PageUp, "", M.NoModifier), (0xFF55, 0xC9)),
    ((K.Key_PageDown, "", M.NoModifier), (0xFF56, 0xD1)),
    ((K.Key_Up, "", M.NoModifier), (0xFF52, 0xC8)),
    ((K.Key_Down, "", M.NoModifier), (0xFF54, 0xD0)),
    ((K.Key_Left, "", M.NoModifier), (0xFF51, 0xCB)),
    ((K.Key_Right, "", M.NoModifier), (0xFF53, 0xCD)),
    ((K.Key_F1, "", M.NoModifier), (0xFFBE, 0x3B)),
    ((K.Key_F10, "", M.NoModifier), (0xFFC7, 0x44)),
    ((K.Key_F11, "", M.NoModifier), (0xFFC8, 0x57)),
    ((K.Key_F12, "", M.NoModifier), (0xFFC9, 0x58)),
    ((K.Key_F13, "", M.NoModifier), (0xFFCA, 0x5D)),
    ((K.Key_F24, "", M.NoModifier), (0xFFD5, 0x6F)),
    ((K.Key_Shift, "", M.ShiftModifier), (0xFFE1, 0x2A)),
    ((K.Key_Control, "", M.ControlModifier), (0xFFE3, 0x1D)),
    ((K.Key_Alt, "", M.AltModifier), (0xFFE9, 0x38)),
    ((K.Key_AltGr, "", M.NoModifier), (0xFFEA, 0xB8)),
    ((K.Key_Meta, "", M.MetaModifier), (0xFFEB, 0xDB)),
    ((K.Key_Super_L, "", M.NoModifier), (0xFFEB, 0xDB)),
    ((K.Key_Super_R, "", M.NoModifier), (0xFFEC, 0xDC)),
    ((K.Key_Menu, "", M.NoModifier), (0xFF67, 0xDD)),
    ((K.Key_Print, "", M.NoModifier), (0xFF61, 0x54)),
    ((K.Key_Pause, "", M.NoModifier), (0xFF13, 0xC6)),
    ((K.Key_CapsLock, "", M.NoModifier), (0xFFE5, 0x3A)),
    ((K.Key_NumLock, "", M.NoModifier), (0xFF7F, 0x45)),
    ((K.Key_ScrollLock, "", M.NoModifier), (0xFF14, 0x46)),
])
def test_fallback_table(args: tuple[Qt.Key, str, M], expected: tuple[int, int]) -> None:
    assert key_for_event(ev(*args), "offscreen") == expected


@pytest.mark.parametrize(("args", "expected"), [
    ((K.Key_0, "0", M.KeypadModifier), (0xFFB0, 0x52)),
    ((K.Key_7, "7", M.KeypadModifier), (0xFFB7, 0x47)),
    ((K.Key_9, "9", M.KeypadModifier), (0xFFB9, 0x49)),
    ((K.Key_Period, ".", M.KeypadModifier), (0xFFAE, 0x53)),
    ((K.Key_Plus, "+", M.KeypadModifier), (0xFFAB, 0x4E)),
    ((K.Key_Minus, "-", M.KeypadModifier), (0xFFAD, 0x4A)),
    ((K.Key_Asterisk, "*", M.KeypadModifier), (0xFFAA, 0x37)),
    ((K.Key_Slash, "/", M.KeypadModifier), (0xFFAF, 0xB5)),
    ((K.Key_Enter, "\r", M.KeypadModifier), (0xFF8D, 0x9C)),
    # Keys the keypad table does not name keep their ordinary meaning (macOS flags arrows as keypad keys).
    ((K.Key_Up, "", M.KeypadModifier), (0xFF52, 0xC8)),
])
def test_keypad_keys(args: tuple[Qt.Key, str, M], expected: tuple[int, int]) -> None:
    assert key_for_event(ev(*args), "offscreen") == expected


def test_ordinary_digits_and_operators_are_not_keypad_keys() -> None:
    assert key_for_event(ev(K.Key_Slash, "/"), "offscreen") == (0x2F, 0x35)
    assert key_for_event(ev(K.Key_Plus, "+", M.ShiftModifier), "offscreen") == (0x2B, 0x0D)


def test_control_characters_fall_back_to_the_keys_own_keysym() -> None:
    assert key_for_event(ev(K.Key_A, "\x01", M.ControlModifier), "offscreen") == (0x61, 0x1E)
    shifted = M.ControlModifier | M.ShiftModifier
    assert key_for_event(ev(K.Key_A, "\x01", shifted), "offscreen") == (0x41, 0x1E)
    assert key_for_event(ev(K.Key_C, "", M.ControlModifier), "offscreen") == (0x63, 0x2E)


def test_text_outside_latin1_is_a_unicode_keysym() -> None:
    assert key_for_event(ev(K.Key_E, "€", M.AltModifier), "offscreen") == (0x010020AC, 0x12)
    assert key_for_event(ev(K.Key_E, "é"), "offscreen") == (0xE9, 0x12)


def test_keys_it_cannot_map() -> None:
    assert key_for_event(ev(K.Key_VolumeUp), "offscreen") is None
    assert key_for_event(ev(K.Key_unknown), "offscreen") is None
    assert key_for_event(ev(K.Key_Eacute, "é"), "offscreen") is None  # no such key on a US layout


@pytest.mark.parametrize("platform", ["xcb", "wayland"])
def test_native_scan_code_names_the_physical_key(platform: str) -> None:
    # A German layout: the key labelled Z sits where US has Y (evdev KEY_Y = 21, xkb keycode 29).
    assert key_for_event(native(K.Key_Z, 21 + 8, 0x7A, "z"), platform) == (0x7A, 0x15)
    # Right Ctrl and Right Alt, which the Qt key alone cannot tell from the left ones.
    assert key_for_event(native(K.Key_Control, 97 + 8, 0xFFE4, "", M.ControlModifier), platform) == (0xFFE4, 0x9D)
    assert key_for_event(native(K.Key_AltGr, 100 + 8, 0xFE03), platform) == (0xFE03, 0xB8)
    assert key_for_event(native(K.Key_Delete, 111 + 8, 0xFFFF, "\x7f"), platform) == (0xFFFF, 0xD3)
    assert key_for_event(native(K.Key_Enter, 96 + 8, 0xFF8D, "\r", M.KeypadModifier), platform) == (0xFF8D, 0x9C)


def test_native_path_without_a_native_keysym_computes_one() -> None:
    assert key_for_event(native(K.Key_A, 30 + 8, 0, "a"), "xcb") == (0x61, 0x1E)
    assert key_for_event(native(K.Key_Up, 103 + 8, 0), "wayland") == (0xFF52, 0xC8)


def test_native_path_falls_back_without_a_usable_scan_code() -> None:
    # No native scan code (synthesized event): the Qt key is used.
    assert key_for_event(native(K.Key_A, 0, 0, "a"), "xcb") == (0x61, 0x1E)
    assert key_for_event(ev(K.Key_Up), "wayland") == (0xFF52, 0xC8)
    # A native code with no qnum (KEY_MUTE) for a Qt key the table does not know either.
    assert key_for_event(native(K.Key_VolumeMute, 113 + 8, 0x1008FF12), "xcb") is None


def test_native_codes_are_ignored_on_other_platforms() -> None:
    # Elsewhere the native scan code is not an evdev code (e.g. a Windows scan code).
    assert key_for_event(native(K.Key_A, 0x1E, 0x41, "a"), "windows") == (0x61, 0x1E)


def test_tables_only_name_keys_with_a_qnum() -> None:
    from vmgui.console.keymap import EVDEV_TO_QNUM
    assert set(QT_KEY_TO_EVDEV.values()) <= EVDEV_TO_QNUM.keys()
    assert set(QT_KEYPAD_TO_EVDEV.values()) <= EVDEV_TO_QNUM.keys()
    # Every printable ASCII Qt key is in the US table.
    assert set(range(0x20, 0x7F)) - set(range(0x61, 0x7B)) <= QT_KEY_TO_EVDEV.keys()
