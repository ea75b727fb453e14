"""The tiny test guest: vmgui.core.tiny_guest builds it; tests keep their own cache ($VMGUI_TEST_CACHE)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vmgui.core import tiny_guest
from vmgui.core.tiny_guest import (
    BOOTED_MARKER,
    KERNEL_CMDLINE,
    POWER_BUTTON_MARKER,
    READY_MARKER,
    SHUTDOWN_MARKER,
    BuildError,
    TinyGuestFiles,
    recipe_key,
    resolve_kernel_package,
)

__all__ = [
    "BOOTED_MARKER",
    "KERNEL_CMDLINE",
    "POWER_BUTTON_MARKER",
    "READY_MARKER",
    "SHUTDOWN_MARKER",
    "BuildError",
    "TinyGuestFiles",
    "default_cache_dir",
    "ensure_tiny_guest",
    "recipe_key",
    "resolve_kernel_package",
]


def default_cache_dir() -> Path:
    """`$VMGUI_TEST_CACHE`, else `~/.cache/vmgui-tests/tiny-guest` (apart from the app's own cache)."""
    env = os.environ.get("VMGUI_TEST_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "vmgui-tests" / "tiny-guest"


def ensure_tiny_guest(cache_dir: Path | None = None) -> TinyGuestFiles:
    """The cached tiny guest in the tests' cache, built first if absent."""
    return tiny_guest.ensure_tiny_guest(cache_dir if cache_dir is not None else default_cache_dir())


def main(argv: list[str] | None = None) -> int:
    """The product's command line, with the tests' cache unless --cache names another."""
    given = sys.argv[1:] if argv is None else argv
    return tiny_guest.main(["--cache", str(default_cache_dir()), *given])


if __name__ == "__main__":
    sys.exit(main())
