"""ctypes calls into gtk-vnc where GI falls short: handing GVnc a Framebuffer vmgui owns, reading cursors.

GI cannot do this: `GVnc.BaseFramebuffer.new(buffer, ...)` takes a C array without a length, so
PyGObject would pass a temporary copy and GVnc would keep a pointer into freed memory. Here the pixels
live in a ctypes array this object keeps alive; GVnc decodes straight into it, and the display wraps
the same memory in an image without copying.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

from vmgui.console.framebuffer import Framebuffer
from vmgui.console.gi_ctypes import gobject_pointer, libraries


class _PixelFormat(ctypes.Structure):
    """VncPixelFormat as gvnc's headers declare it (natural C alignment)."""

    _fields_ = [
        ("bits_per_pixel", ctypes.c_uint8),
        ("depth", ctypes.c_uint8),
        ("byte_order", ctypes.c_uint16),
        ("true_color_flag", ctypes.c_uint8),
        ("red_max", ctypes.c_uint16),
        ("green_max", ctypes.c_uint16),
        ("blue_max", ctypes.c_uint16),
        ("red_shift", ctypes.c_uint8),
        ("green_shift", ctypes.c_uint8),
        ("blue_shift", ctypes.c_uint8),
    ]


_G_LITTLE_ENDIAN = 1234


def local_format() -> _PixelFormat:
    return _PixelFormat(bits_per_pixel=32, depth=24, byte_order=_G_LITTLE_ENDIAN, true_color_flag=1,
                        red_max=255, green_max=255, blue_max=255, red_shift=16, green_shift=8, blue_shift=0)


@cache
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("gvnc-1.0") or "libgvnc-1.0.so.0"
    lib = ctypes.CDLL(name)
    lib.vnc_base_framebuffer_new.restype = ctypes.c_void_p
    lib.vnc_base_framebuffer_new.argtypes = [ctypes.c_void_p, ctypes.c_uint16, ctypes.c_uint16, ctypes.c_int,
                                             ctypes.POINTER(_PixelFormat), ctypes.c_void_p]
    lib.vnc_connection_get_pixel_format.restype = ctypes.c_void_p
    lib.vnc_connection_get_pixel_format.argtypes = [ctypes.c_void_p]
    lib.vnc_connection_set_pixel_format.restype = ctypes.c_int
    lib.vnc_connection_set_pixel_format.argtypes = [ctypes.c_void_p, ctypes.POINTER(_PixelFormat)]
    lib.vnc_connection_set_framebuffer.restype = ctypes.c_int
    lib.vnc_connection_set_framebuffer.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    return lib


def attach(fb: Framebuffer, connection: Any) -> None:
    """Make GVnc decode into `fb`: ask the server for our pixel format (32 bits, 0x00RRGGBB) and set it."""
    lib = _lib()
    conn = gobject_pointer(connection)
    fmt = local_format()
    lib.vnc_connection_set_pixel_format(conn, ctypes.byref(fmt))
    remote = lib.vnc_connection_get_pixel_format(conn)  # what the server sends now
    gvnc_fb = lib.vnc_base_framebuffer_new(fb.address, fb.width, fb.height, fb.stride, ctypes.byref(fmt), remote)
    if not gvnc_fb:
        raise RuntimeError("gtk-vnc could not create a framebuffer")
    try:
        lib.vnc_connection_set_framebuffer(conn, gvnc_fb)  # the connection takes its own reference
    finally:
        libraries()[1].g_object_unref(gvnc_fb)


def cursor_bgra(cursor: Any, width: int, height: int) -> bytes | None:
    """A VncCursor's pixels as GVnc keeps them: B,G,R,A bytes, alpha 0 or 255 (None if it has none).

    Cursor.get_data() through GI returns a C array with no length, which PyGObject 3.50 crashes on.
    """
    get_data = _lib().vnc_cursor_get_data
    get_data.restype, get_data.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    address = get_data(gobject_pointer(cursor))
    return ctypes.string_at(address, width * height * 4) if address else None
