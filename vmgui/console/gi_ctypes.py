"""ctypes access to GLib/GObject where PyGObject falls short: object addresses, byte-array properties."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any


def gobject_pointer(obj: Any) -> int:
    """The C address of a PyGObject wrapper's GObject."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    pointer = get(obj.__gpointer__, None)
    if not pointer:
        raise RuntimeError("no GObject behind this wrapper")
    return int(pointer)


@cache
def libraries() -> tuple[ctypes.CDLL, ctypes.CDLL]:
    """(libglib-2.0, libgobject-2.0) with the prototypes vmgui uses."""
    glib = ctypes.CDLL(ctypes.util.find_library("glib-2.0") or "libglib-2.0.so.0")
    glib.g_byte_array_new.restype = ctypes.c_void_p
    glib.g_byte_array_new.argtypes = []
    glib.g_byte_array_append.restype = ctypes.c_void_p
    glib.g_byte_array_append.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_uint]
    glib.g_byte_array_unref.restype = None
    glib.g_byte_array_unref.argtypes = [ctypes.c_void_p]
    gobject = ctypes.CDLL(ctypes.util.find_library("gobject-2.0") or "libgobject-2.0.so.0")
    gobject.g_object_set.restype = None  # variadic: the arguments are passed as typed ctypes values
    gobject.g_object_unref.restype = None
    gobject.g_object_unref.argtypes = [ctypes.c_void_p]
    return glib, gobject


def set_bytes_property(obj: Any, name: str, data: bytes) -> None:
    """Set a GByteArray property. PyGObject (3.50) cannot: it stores the Python bytes' buffer as if it
    were the GByteArray, so the C side reads text as pointers and crashes. g_object_set copies the array.
    """
    glib, gobject = libraries()
    array = glib.g_byte_array_new()
    try:
        glib.g_byte_array_append(array, data, len(data))
        gobject.g_object_set(ctypes.c_void_p(gobject_pointer(obj)), name.encode(), ctypes.c_void_p(array),
                             ctypes.c_void_p(None))
    finally:
        glib.g_byte_array_unref(array)
