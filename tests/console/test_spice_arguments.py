"""How SPICE signal arguments reach Python (PyGObject 3.50, spice-glib 0.42), measured with a guest agent:
clipboard types come as a list of ints, clipboard data as bytes; addresses are handled too."""

from __future__ import annotations

import ctypes

from vmgui.console.spice_session import _bytes_of, _uint32s


def test_clipboard_types_as_a_list_or_an_address() -> None:
    assert _uint32s([1, 3], 2) == [1, 3]
    array = (ctypes.c_uint32 * 2)(1, 7)
    assert _uint32s(ctypes.addressof(array), 2) == [1, 7]
    assert _uint32s(None, 0) == []


def test_clipboard_data_as_bytes_or_an_address() -> None:
    assert _bytes_of(b"hi-from-guest\n", 14) == b"hi-from-guest\n"
    assert _bytes_of(b"abcdef", 3) == b"abc"
    buffer = ctypes.create_string_buffer(b"cursor", 6)
    assert _bytes_of(ctypes.addressof(buffer), 6) == b"cursor"
    assert _bytes_of(None, 4) == b""
