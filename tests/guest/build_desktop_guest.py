"""Builds (once, cached) the desktop test guest: Debian with Xorg and spice-vdagent, for SPICE agent tests."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

RECIPE = Path(__file__).with_name("desktop")
CACHE = Path.home() / ".cache" / "vmgui-tests" / "desktop-guest"


@dataclass(frozen=True)
class DesktopGuestFiles:
    kernel: Path
    initrd: Path
    disk: Path  # raw; boot it through a qcow2 overlay so the cached image stays clean


def recipe_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in RECIPE.rglob("*") if p.is_file() and p.suffix != ".md"):
        digest.update(path.relative_to(RECIPE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def ensure_desktop_guest() -> DesktopGuestFiles:
    """The built guest for the current recipe, building it first when missing (about 2.5 min, as root)."""
    directory = CACHE / recipe_hash()
    files = DesktopGuestFiles(directory / "vmlinuz", directory / "initrd.img", directory / "disk.img")
    if all(p.exists() for p in (files.kernel, files.initrd, files.disk)):
        return files
    log = directory.with_suffix(".log")
    directory.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        result = subprocess.run(["sh", str(RECIPE / "build.sh"), str(directory)], stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        for p in (files.kernel, files.initrd, files.disk):
            p.unlink(missing_ok=True)
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"building the desktop guest failed (exit {result.returncode}; log {log}):\n{tail}")
    return files


if __name__ == "__main__":
    print(ensure_desktop_guest(), file=sys.stdout)
