"""A screen's pixels as 0x00RRGGBB words in memory the widget paints from (QImage.Format_RGB32 layout).

VNC sessions own the memory (GVnc decodes into it); SPICE sessions wrap spice-glib's primary surface.
"""

from __future__ import annotations

import ctypes

BYTES_PER_PIXEL = 4
MAX_PIXELS = 16384 * 16384  # refuse anything bigger (RFB allows 65535 x 65535: 16 GiB at 32 bpp)


class Framebuffer:
    """width x height pixels, row after row `stride` bytes apart."""

    def __init__(self, width: int, height: int, *, stride: int = 0, address: int = 0) -> None:
        """New zeroed memory, or with `address` a view of memory someone else owns (and keeps alive)."""
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            raise ValueError(f"the server asked for a {width}x{height} screen, which is out of range")
        self.width = width
        self.height = height
        self.stride = stride or width * BYTES_PER_PIXEL
        if self.stride < width * BYTES_PER_PIXEL:
            raise ValueError(f"a row of {self.stride} bytes cannot hold {width} pixels")
        size = self.stride * height
        self.owned = not address
        self.memory = (ctypes.c_uint8 * size)() if self.owned else (ctypes.c_uint8 * size).from_address(address)

    @property
    def address(self) -> int:
        return ctypes.addressof(self.memory)

    def view(self) -> memoryview:
        return memoryview(self.memory).cast("B")
