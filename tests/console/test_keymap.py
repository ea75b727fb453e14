"""Keyboard tables: evdev to qnum and keysym, typing text, key combos."""

from __future__ import annotations

import pytest

from vmgui.console import keymap as km
from vmgui.console.keymap import (
    EVDEV_TO_QNUM,
    KEYSYM_FOR_EVDEV,
    SEND_KEY_COMBOS,
    KeyStroke,
    combo,
    qnum_for_evdev,
    strokes_for_text,
)

CTRL, ALT, SHIFT = (0xFFE3, 0x1D), (0xFFE9, 0x38), (0xFFE1, 0x2A)


@pytest.mark.parametrize(("evdev", "qnum"), [
    (1, 0x01),      # Esc
    (30, 0x1E),     # A
    (28, 0x1C),     # Enter
    (29, 0x1D),     # Left Ctrl
    (56, 0x38),     # Left Alt
    (83, 0x53),     # Keypad .
    (86, 0x56),     # the ISO key left of Z
    (87, 0x57),     # F11
    (88, 0x58),     # F12
    (96, 0x9C),     # Keypad Enter
    (97, 0x9D),     # Right Ctrl
    (98, 0xB5),     # Keypad /
    (99, 0x54),     # SysRq / Print
    (100, 0xB8),    # Right Alt
    (102, 0xC7), (103, 0xC8), (104, 0xC9), (105, 0xCB), (106, 0xCD), (107, 0xCF), (108, 0xD0), (109, 0xD1),
    (110, 0xD2),    # Insert
    (111, 0xD3),    # Delete
    (119, 0xC6),    # Pause
    (125, 0xDB),    # Left Meta
    (126, 0xDC),    # Right Meta
    (127, 0xDD),    # Compose (the Menu key)
    (183, 0x5D),    # F13
    (194, 0x6F),    # F24
])
def test_qnum_for_evdev(evdev: int, qnum: int) -> None:
    assert qnum_for_evdev(evdev) == qnum
    assert EVDEV_TO_QNUM[evdev] == qnum


def test_unknown_evdev_codes_have_no_qnum() -> None:
    assert qnum_for_evdev(0) is None
    assert qnum_for_evdev(84) is None  # a hole in input-event-codes.h
    assert qnum_for_evdev(113) is None  # KEY_MUTE: not a 105-key PC key
    assert qnum_for_evdev(10_000) is None


def test_qnum_table_covers_a_105_key_keyboard_with_unique_codes() -> None:
    assert set(range(1, 84)) | {86, 87, 88} <= EVDEV_TO_QNUM.keys()
    assert {96, 97, 98, 99, 100, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 119, 125, 126, 127} \
        <= EVDEV_TO_QNUM.keys()
    assert set(range(183, 195)) <= EVDEV_TO_QNUM.keys()  # F13..F24
    values = list(EVDEV_TO_QNUM.values())
    assert len(values) == len(set(values))
    assert all(0 < v < 0x100 for v in values)
    for code in range(1, 84):
        assert EVDEV_TO_QNUM[code] == code


def test_every_qnum_key_has_a_keysym() -> None:
    assert EVDEV_TO_QNUM.keys() <= KEYSYM_FOR_EVDEV.keys()


@pytest.mark.parametrize(("evdev", "keysym"), [
    (1, 0xFF1B), (28, 0xFF0D), (14, 0xFF08), (15, 0xFF09), (111, 0xFFFF), (110, 0xFF63),
    (102, 0xFF50), (107, 0xFF57), (104, 0xFF55), (109, 0xFF56),
    (105, 0xFF51), (103, 0xFF52), (106, 0xFF53), (108, 0xFF54),
    (59, 0xFFBE), (68, 0xFFC7), (87, 0xFFC8), (88, 0xFFC9), (183, 0xFFCA), (194, 0xFFD5),
    (42, 0xFFE1), (54, 0xFFE2), (29, 0xFFE3), (97, 0xFFE4), (56, 0xFFE9), (100, 0xFFEA),
    (125, 0xFFEB), (126, 0xFFEC), (127, 0xFF67), (99, 0xFF61), (119, 0xFF13),
    (58, 0xFFE5), (69, 0xFF7F), (70, 0xFF14),
    (82, 0xFFB0), (71, 0xFFB7), (73, 0xFFB9), (96, 0xFF8D), (55, 0xFFAA), (78, 0xFFAB), (74, 0xFFAD),
    (83, 0xFFAE), (98, 0xFFAF),
    (30, 0x61), (44, 0x7A), (2, 0x31), (11, 0x30), (57, 0x20), (12, 0x2D), (13, 0x3D), (26, 0x5B), (27, 0x5D),
    (39, 0x3B), (40, 0x27), (41, 0x60), (43, 0x5C), (51, 0x2C), (52, 0x2E), (53, 0x2F),
])
def test_keysym_for_evdev(evdev: int, keysym: int) -> None:
    assert KEYSYM_FOR_EVDEV[evdev] == keysym


def test_strokes_for_a_shell_command() -> None:
    strokes, missing = strokes_for_text("ls -l\n")
    assert missing == ""
    assert strokes == [
        KeyStroke(0x6C, 0x26, False),   # l
        KeyStroke(0x73, 0x1F, False),   # s
        KeyStroke(0x20, 0x39, False),   # space
        KeyStroke(0x2D, 0x0C, False),   # -
        KeyStroke(0x6C, 0x26, False),   # l
        KeyStroke(0xFF0D, 0x1C, False),  # Return
    ]


def test_shifted_characters_need_shift() -> None:
    strokes, missing = strokes_for_text('A!:"~|?<{_+\t')
    assert missing == ""
    assert strokes == [
        KeyStroke(0x41, 0x1E, True), KeyStroke(0x21, 0x02, True), KeyStroke(0x3A, 0x27, True),
        KeyStroke(0x22, 0x28, True), KeyStroke(0x7E, 0x29, True), KeyStroke(0x7C, 0x2B, True),
        KeyStroke(0x3F, 0x35, True), KeyStroke(0x3C, 0x33, True), KeyStroke(0x7B, 0x1A, True),
        KeyStroke(0x5F, 0x0C, True), KeyStroke(0x2B, 0x0D, True), KeyStroke(0xFF09, 0x0F, False),
    ]


def test_every_printable_ascii_character_is_typeable() -> None:
    text = "".join(chr(c) for c in range(0x20, 0x7F))
    strokes, missing = strokes_for_text(text)
    assert missing == ""
    assert [s.keysym for s in strokes] == list(range(0x20, 0x7F))
    assert [s.shift for s in strokes if s.keysym in range(0x61, 0x7B)] == [False] * 26
    assert [s.shift for s in strokes if s.keysym in range(0x41, 0x5B)] == [True] * 26


def test_untypeable_characters_are_reported_not_raised() -> None:
    strokes, missing = strokes_for_text("café\x00€ x")
    assert missing == "é\x00€"
    assert [s.keysym for s in strokes] == [0x63, 0x61, 0x66, 0x20, 0x78]


def test_crlf_is_one_return() -> None:
    strokes, missing = strokes_for_text("a\r\nb")
    assert missing == ""
    assert [s.keysym for s in strokes] == [0x61, 0xFF0D, 0x62]


def test_keystroke_is_frozen() -> None:
    stroke = KeyStroke(0x61, 0x1E, False)
    with pytest.raises(AttributeError):
        stroke.shift = True  # type: ignore[misc]


def test_named_combos() -> None:
    assert combo("ctrl+alt+del") == [CTRL, ALT, (0xFFFF, 0xD3)]
    assert combo("ctrl+alt+backspace") == [CTRL, ALT, (0xFF08, 0x0E)]
    assert combo("ctrl+alt+f1") == [CTRL, ALT, (0xFFBE, 0x3B)]
    assert combo("ctrl+alt+f10") == [CTRL, ALT, (0xFFC7, 0x44)]
    assert combo("ctrl+alt+f12") == [CTRL, ALT, (0xFFC9, 0x58)]
    assert combo("print") == [(0xFF61, 0x54)]


def test_generic_combo_strings() -> None:
    assert combo("ctrl+alt") == [CTRL, ALT]
    assert combo("Shift+F12") == [SHIFT, (0xFFC9, 0x58)]
    assert combo(" CTRL + Alt + Delete ") == [CTRL, ALT, (0xFFFF, 0xD3)]
    assert combo("super") == combo("meta") == [(0xFFEB, 0xDB)]
    assert combo("esc") == [(0xFF1B, 0x01)]
    assert combo("tab") == [(0xFF09, 0x0F)]
    assert combo("enter") == combo("return") == [(0xFF0D, 0x1C)]
    assert combo("del") == combo("delete")
    assert combo("ctrl+c") == [CTRL, (0x63, 0x2E)]
    assert combo("alt+7") == [ALT, (0x37, 0x08)]


@pytest.mark.parametrize(("text", "bad"), [
    ("ctrl+alt+dle", "'dle'"),
    ("ctrl+f13", "'f13'"),
    ("hyper", "'hyper'"),
    ("ctrl+!", "'!'"),
    ("ctrl+alt+", "empty"),
    ("", "empty"),
    ("ctrl++a", "empty"),
    ("ctrl+Ctrl", "'Ctrl'"),
])
def test_bad_combo_strings_raise_naming_the_part(text: str, bad: str) -> None:
    with pytest.raises(ValueError, match=bad) as info:
        combo(text)
    assert repr(text) in str(info.value)


def test_send_key_menu() -> None:
    labels = [label for label, _name in SEND_KEY_COMBOS]
    assert labels == ["Ctrl+Alt+Del", "Ctrl+Alt+Backspace", *(f"Ctrl+Alt+F{i}" for i in range(1, 13)), "PrintScreen"]
    for _label, name in SEND_KEY_COMBOS:
        keys = combo(name)
        assert keys
        assert all(qnum in EVDEV_TO_QNUM.values() for _keysym, qnum in keys)
    assert dict(SEND_KEY_COMBOS)["Ctrl+Alt+F3"] == "ctrl+alt+f3"


def test_f_keys_are_f1_to_f24() -> None:
    assert len(km.F_KEYS) == 24
    assert [EVDEV_TO_QNUM[c] for c in km.F_KEYS[:12]] == [*range(0x3B, 0x45), 0x57, 0x58]
