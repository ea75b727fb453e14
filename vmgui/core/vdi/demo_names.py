"""What the demo desktop pool's parts are called, and its size: light enough for the main window to ask about."""

from __future__ import annotations

import re
from dataclasses import dataclass

SIZE = 3  # desktops in the demo pool


@dataclass(frozen=True)
class DemoNames:
    """What the demo's parts are called on a host (tests use names of their own)."""

    golden: str = "vmgui-demo"                  # the golden image's source guest
    pool: str = "demo"                          # the desktop pool
    pattern: str = "demo-{n}"                   # its desktops
    storage_pool: str = "default"               # made (as storage.DEFAULT_POOL) when it is missing
    kernel: str = "vmgui-demo-vmlinuz"
    initrd: str = "vmgui-demo-initrd.gz"
    disk: str = "vmgui-demo.qcow2"

    def owns(self, guest_name: str) -> bool:
        """Whether a guest of this name is the demo's golden guest or one of its desktops (by name only)."""
        if guest_name == self.golden:
            return True
        head, brace, rest = self.pattern.partition("{n")
        tail = rest.partition("}")[2] if brace else ""
        return bool(brace) and re.fullmatch(re.escape(head) + r"\d+" + re.escape(tail), guest_name) is not None


DEFAULT_NAMES = DemoNames()  # the product's names
