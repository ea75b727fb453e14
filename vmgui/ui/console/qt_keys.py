"""Qt key events to the (keysym, qnum scancode) pair a VNC or SPICE console sends."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent

from vmgui.console import keymap as km

# Platforms whose native scan code is the X11/xkb keycode, i.e. the Linux evdev code + 8.
_EVDEV_PLATFORMS = frozenset({"xcb", "wayland"})
_XKB_OFFSET = 8

_K = Qt.Key
_NAMED_KEYS: dict[int, int] = {
    _K.Key_Escape: km.KEY_ESC, _K.Key_Tab: km.KEY_TAB, _K.Key_Backtab: km.KEY_TAB,
    _K.Key_Backspace: km.KEY_BACKSPACE, _K.Key_Return: km.KEY_ENTER, _K.Key_Enter: km.KEY_KPENTER,
    _K.Key_Insert: km.KEY_INSERT, _K.Key_Delete: km.KEY_DELETE, _K.Key_Pause: km.KEY_PAUSE,
    _K.Key_Print: km.KEY_SYSRQ, _K.Key_SysReq: km.KEY_SYSRQ, _K.Key_Clear: km.KEY_KP5,
    _K.Key_Home: km.KEY_HOME, _K.Key_End: km.KEY_END, _K.Key_PageUp: km.KEY_PAGEUP, _K.Key_PageDown: km.KEY_PAGEDOWN,
    _K.Key_Left: km.KEY_LEFT, _K.Key_Up: km.KEY_UP, _K.Key_Right: km.KEY_RIGHT, _K.Key_Down: km.KEY_DOWN,
    _K.Key_Shift: km.KEY_LEFTSHIFT, _K.Key_Control: km.KEY_LEFTCTRL, _K.Key_Alt: km.KEY_LEFTALT,
    _K.Key_AltGr: km.KEY_RIGHTALT, _K.Key_Meta: km.KEY_LEFTMETA, _K.Key_Super_L: km.KEY_LEFTMETA,
    _K.Key_Super_R: km.KEY_RIGHTMETA, _K.Key_Menu: km.KEY_COMPOSE, _K.Key_CapsLock: km.KEY_CAPSLOCK,
    _K.Key_NumLock: km.KEY_NUMLOCK, _K.Key_ScrollLock: km.KEY_SCROLLLOCK,
    **{_K.Key_F1 + i: code for i, code in enumerate(km.F_KEYS)},  # Key_F1..Key_F24 are consecutive
}

#: Qt.Key -> evdev code on a US layout; Qt's keys for printable ASCII are the (upper-case) character codes.
QT_KEY_TO_EVDEV: Mapping[int, int] = MappingProxyType(
    {ord(char.upper()): code for char, code in km.EVDEV_FOR_CHAR.items()} | _NAMED_KEYS
)

#: Qt.Key -> evdev code for keys that carry Qt.KeyboardModifier.KeypadModifier.
QT_KEYPAD_TO_EVDEV: Mapping[int, int] = MappingProxyType({
    **{_K.Key_0 + i: code for i, code in enumerate((km.KEY_KP0, km.KEY_KP1, km.KEY_KP2, km.KEY_KP3, km.KEY_KP4,
                                                      km.KEY_KP5, km.KEY_KP6, km.KEY_KP7, km.KEY_KP8, km.KEY_KP9))},
    _K.Key_Period: km.KEY_KPDOT, _K.Key_Comma: km.KEY_KPDOT, _K.Key_Plus: km.KEY_KPPLUS,
    _K.Key_Minus: km.KEY_KPMINUS, _K.Key_Asterisk: km.KEY_KPASTERISK, _K.Key_Slash: km.KEY_KPSLASH,
    _K.Key_Enter: km.KEY_KPENTER, _K.Key_Equal: km.KEY_KPEQUAL,
})

_FUNCTION_KEYSYMS = 0xFD00  # keysyms from here up are keys that type nothing (keypad keys included)


def _keysym(event: QKeyEvent, evdev: int) -> int:
    """The keysym for a key without a native one: named keys by table, others from the text they type."""
    table = km.KEYSYM_FOR_EVDEV.get(evdev, 0)
    if table >= _FUNCTION_KEYSYMS:
        return table
    text = event.text()
    if text and text[0].isprintable():
        point = ord(text[0])
        return point if point < 0x100 else 0x01000000 | point
    # No usable text (a Ctrl combination types a control character): the key's own character.
    if ord("a") <= table <= ord("z") and event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
        return table - 0x20
    return table


def key_for_event(event: QKeyEvent, platform: str) -> tuple[int, int] | None:
    """The (keysym, qnum) to send for a key event on a Qt platform ("xcb", "wayland", ...), or None.

    On xcb and wayland the native scan code names the physical key whatever the layout; elsewhere the key
    is looked up as if the host had a US layout.
    """
    if platform in _EVDEV_PLATFORMS and event.nativeScanCode() > _XKB_OFFSET:
        evdev = event.nativeScanCode() - _XKB_OFFSET
        qnum = km.qnum_for_evdev(evdev)
        if qnum is not None:
            return event.nativeVirtualKey() or _keysym(event, evdev), qnum
    key = event.key()
    code = None
    if event.modifiers() & Qt.KeyboardModifier.KeypadModifier:
        code = QT_KEYPAD_TO_EVDEV.get(key)
    if code is None:
        code = QT_KEY_TO_EVDEV.get(key)
    if code is None:
        return None
    return _keysym(event, code), km.EVDEV_TO_QNUM[code]
