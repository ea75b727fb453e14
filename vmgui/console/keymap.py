"""Keyboard tables for consoles: Linux evdev codes to XT qnum scancodes and X11 keysyms, text and key combos."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Linux evdev codes (input-event-codes.h) this module names; 1..88 are also the set-1 scancodes.
KEY_ESC, KEY_BACKSPACE, KEY_TAB, KEY_ENTER, KEY_LEFTCTRL = 1, 14, 15, 28, 29
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_LEFTALT, KEY_SPACE, KEY_CAPSLOCK = 42, 54, 56, 57, 58
KEY_F1, KEY_NUMLOCK, KEY_SCROLLLOCK, KEY_102ND, KEY_F11, KEY_F12 = 59, 69, 70, 86, 87, 88
KEY_KP7, KEY_KP8, KEY_KP9, KEY_KPMINUS, KEY_KP4, KEY_KP5, KEY_KP6 = 71, 72, 73, 74, 75, 76, 77
KEY_KPPLUS, KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP0, KEY_KPDOT, KEY_KPASTERISK = 78, 79, 80, 81, 82, 83, 55
KEY_KPENTER, KEY_RIGHTCTRL, KEY_KPSLASH, KEY_SYSRQ, KEY_RIGHTALT = 96, 97, 98, 99, 100
KEY_HOME, KEY_UP, KEY_PAGEUP, KEY_LEFT, KEY_RIGHT, KEY_END, KEY_DOWN = 102, 103, 104, 105, 106, 107, 108
KEY_PAGEDOWN, KEY_INSERT, KEY_DELETE, KEY_KPEQUAL, KEY_PAUSE, KEY_KPCOMMA = 109, 110, 111, 117, 119, 121
KEY_LEFTMETA, KEY_RIGHTMETA, KEY_COMPOSE, KEY_MENU, KEY_F13 = 125, 126, 127, 139, 183

#: The evdev code of F1..F24 (index 0 is F1).
F_KEYS: tuple[int, ...] = (*range(KEY_F1, KEY_F1 + 10), KEY_F11, KEY_F12, *range(KEY_F13, KEY_F13 + 12))

# Set-1 scancodes with an 0xE0 prefix are qnum 0x80 | code; F13..F24 follow keycodemapdb's qnum column.
_QNUM_EXTRA = {
    KEY_KPENTER: 0x9C, KEY_RIGHTCTRL: 0x9D, KEY_KPSLASH: 0xB5, KEY_SYSRQ: 0x54, KEY_RIGHTALT: 0xB8,
    KEY_HOME: 0xC7, KEY_UP: 0xC8, KEY_PAGEUP: 0xC9, KEY_LEFT: 0xCB, KEY_RIGHT: 0xCD, KEY_END: 0xCF,
    KEY_DOWN: 0xD0, KEY_PAGEDOWN: 0xD1, KEY_INSERT: 0xD2, KEY_DELETE: 0xD3, KEY_KPEQUAL: 0x59,
    KEY_PAUSE: 0xC6, KEY_KPCOMMA: 0x7E, KEY_LEFTMETA: 0xDB, KEY_RIGHTMETA: 0xDC, KEY_COMPOSE: 0xDD,
    KEY_MENU: 0x9E,
}
_QNUM_F13_F24 = (0x5D, 0x5E, 0x5F, 0x55, 0x83, 0xF7, 0x84, 0x5A, 0x74, 0xF9, 0x6D, 0x6F)

EVDEV_TO_QNUM: Mapping[int, int] = MappingProxyType(
    {code: code for code in (*range(1, 84), KEY_102ND, KEY_F11, KEY_F12)}
    | _QNUM_EXTRA
    | dict(zip(F_KEYS[12:], _QNUM_F13_F24, strict=True))
)


def qnum_for_evdev(code: int) -> int | None:
    """The QEMU qnum (XT set-1, 0xE0-prefixed keys as 0x80 | code) of a Linux evdev code, or None."""
    return EVDEV_TO_QNUM.get(code)


# The US layout's printable keys: evdev code -> (unshifted, shifted) characters.
_US_KEYS: dict[int, tuple[str, str]] = {
    **{2 + i: (d, s) for i, (d, s) in enumerate(zip("1234567890", "!@#$%^&*()", strict=True))},
    12: ("-", "_"), 13: ("=", "+"), 26: ("[", "{"), 27: ("]", "}"), 39: (";", ":"), 40: ("'", '"'),
    41: ("`", "~"), 43: ("\\", "|"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), KEY_SPACE: (" ", " "),
    **{code: (c, c.upper()) for row, first in (("qwertyuiop", 16), ("asdfghjkl", 30), ("zxcvbnm", 44))
       for code, c in enumerate(row, first)},
}

# X11 keysyms (keysymdef.h) of the non-printing keys.
XK_RETURN, XK_TAB, XK_BACKSPACE, XK_ESCAPE, XK_DELETE, XK_PRINT = 0xFF0D, 0xFF09, 0xFF08, 0xFF1B, 0xFFFF, 0xFF61
_KEYSYM_SPECIAL = {
    KEY_ESC: XK_ESCAPE, KEY_BACKSPACE: XK_BACKSPACE, KEY_TAB: XK_TAB, KEY_ENTER: XK_RETURN,
    KEY_LEFTCTRL: 0xFFE3, KEY_RIGHTCTRL: 0xFFE4, KEY_LEFTSHIFT: 0xFFE1, KEY_RIGHTSHIFT: 0xFFE2,
    KEY_LEFTALT: 0xFFE9, KEY_RIGHTALT: 0xFFEA, KEY_LEFTMETA: 0xFFEB, KEY_RIGHTMETA: 0xFFEC,
    KEY_COMPOSE: 0xFF67, KEY_MENU: 0xFF67, KEY_CAPSLOCK: 0xFFE5, KEY_NUMLOCK: 0xFF7F, KEY_SCROLLLOCK: 0xFF14,
    KEY_SYSRQ: XK_PRINT, KEY_PAUSE: 0xFF13, KEY_INSERT: 0xFF63, KEY_DELETE: XK_DELETE, KEY_HOME: 0xFF50,
    KEY_END: 0xFF57, KEY_PAGEUP: 0xFF55, KEY_PAGEDOWN: 0xFF56, KEY_LEFT: 0xFF51, KEY_UP: 0xFF52,
    KEY_RIGHT: 0xFF53, KEY_DOWN: 0xFF54,
    KEY_KPENTER: 0xFF8D, KEY_KPASTERISK: 0xFFAA, KEY_KPPLUS: 0xFFAB, KEY_KPCOMMA: 0xFFAC, KEY_KPMINUS: 0xFFAD,
    KEY_KPDOT: 0xFFAE, KEY_KPSLASH: 0xFFAF, KEY_KPEQUAL: 0xFFBD, KEY_KP0: 0xFFB0, KEY_KP1: 0xFFB1,
    KEY_KP2: 0xFFB2, KEY_KP3: 0xFFB3, KEY_KP4: 0xFFB4, KEY_KP5: 0xFFB5, KEY_KP6: 0xFFB6, KEY_KP7: 0xFFB7,
    KEY_KP8: 0xFFB8, KEY_KP9: 0xFFB9,
    **{code: 0xFFBE + i for i, code in enumerate(F_KEYS)},  # F1 = 0xFFBE .. F24 = 0xFFD5
}

KEYSYM_FOR_EVDEV: Mapping[int, int] = MappingProxyType(
    {code: ord(plain) for code, (plain, _shifted) in _US_KEYS.items()} | {KEY_102ND: ord("<")} | _KEYSYM_SPECIAL
)


#: The evdev code of the US-layout key that types each printable ASCII character ('A' and 'a' are KEY_A).
EVDEV_FOR_CHAR: Mapping[str, int] = MappingProxyType({char: code for code, pair in _US_KEYS.items() for char in pair})


@dataclass(frozen=True)
class KeyStroke:
    """One key to tap: its keysym, its qnum scancode, and whether Shift must be held around it."""

    keysym: int
    qnum: int
    shift: bool


def _char_strokes() -> dict[str, KeyStroke]:
    strokes = {"\n": KeyStroke(XK_RETURN, EVDEV_TO_QNUM[KEY_ENTER], False),
               "\t": KeyStroke(XK_TAB, EVDEV_TO_QNUM[KEY_TAB], False)}
    for code, (plain, shifted) in _US_KEYS.items():
        strokes.setdefault(shifted, KeyStroke(ord(shifted), EVDEV_TO_QNUM[code], True))
        strokes[plain] = KeyStroke(ord(plain), EVDEV_TO_QNUM[code], False)
    return strokes


_CHAR_STROKES: Mapping[str, KeyStroke] = MappingProxyType(_char_strokes())


def strokes_for_text(text: str) -> tuple[list[KeyStroke], str]:
    """The US-layout strokes that type `text` and the characters it could not type, in order.

    Printable ASCII, '\\n' (or "\\r\\n") as Return and '\\t' as Tab; a shifted character has `shift` set.
    """
    strokes: list[KeyStroke] = []
    missing: list[str] = []
    for char in text.replace("\r\n", "\n"):
        stroke = _CHAR_STROKES.get(char)
        if stroke is None:
            missing.append(char)
        else:
            strokes.append(stroke)
    return strokes, "".join(missing)


# Key names accepted in combo strings -> evdev code.
_KEY_NAMES: Mapping[str, int] = MappingProxyType({
    "ctrl": KEY_LEFTCTRL, "control": KEY_LEFTCTRL, "alt": KEY_LEFTALT, "shift": KEY_LEFTSHIFT,
    "super": KEY_LEFTMETA, "meta": KEY_LEFTMETA, "win": KEY_LEFTMETA, "altgr": KEY_RIGHTALT,
    "del": KEY_DELETE, "delete": KEY_DELETE, "backspace": KEY_BACKSPACE, "esc": KEY_ESC, "escape": KEY_ESC,
    "tab": KEY_TAB, "enter": KEY_ENTER, "return": KEY_ENTER, "space": KEY_SPACE, "print": KEY_SYSRQ,
    "printscreen": KEY_SYSRQ, "sysrq": KEY_SYSRQ, "pause": KEY_PAUSE, "insert": KEY_INSERT, "home": KEY_HOME,
    "end": KEY_END, "pageup": KEY_PAGEUP, "pagedown": KEY_PAGEDOWN, "up": KEY_UP, "down": KEY_DOWN,
    "left": KEY_LEFT, "right": KEY_RIGHT, "menu": KEY_COMPOSE,
    **{f"f{i}": code for i, code in enumerate(F_KEYS[:12], 1)},
    **{plain: code for code, (plain, _shifted) in _US_KEYS.items() if plain.isalnum()},
})


def combo(name: str) -> list[tuple[int, int]]:
    """The (keysym, qnum) of each key in a combo like "ctrl+alt+del", in press order (release in reverse).

    Raises ValueError naming the part that is not a known key (or is repeated).
    """
    codes: list[int] = []
    for raw in name.split("+"):
        part = raw.strip().lower()
        if not part:
            raise ValueError(f"empty key name in key combo {name!r}")
        code = _KEY_NAMES.get(part)
        if code is None:
            raise ValueError(f"unknown key {raw.strip()!r} in key combo {name!r}")
        if code in codes:
            raise ValueError(f"key {raw.strip()!r} appears twice in key combo {name!r}")
        codes.append(code)
    return [(KEYSYM_FOR_EVDEV[code], EVDEV_TO_QNUM[code]) for code in codes]


#: (menu label, combo name) for a console's "Send key" menu.
SEND_KEY_COMBOS: tuple[tuple[str, str], ...] = (
    ("Ctrl+Alt+Del", "ctrl+alt+del"),
    ("Ctrl+Alt+Backspace", "ctrl+alt+backspace"),
    *((f"Ctrl+Alt+F{i}", f"ctrl+alt+f{i}") for i in range(1, 13)),
    ("PrintScreen", "print"),
)
