"""Network installs: find an install tree's installer kernel and initrd, and fetch them (blocking, network).

A tree is a distribution's installer directory on a mirror (Fedora's …/Everything/x86_64/os, Debian's
…/dists/bookworm/main/installer-amd64). The kernel and initrd are found, in this order, from the tree's
.treeinfo (libosinfo), from where libosinfo says the chosen OS keeps them, or in the layouts that
distributions share. vmgui fetches them itself and uploads them into a storage pool, so a network
install works the same on a remote host.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vmgui.core.errors import VmguiError
from vmgui.core.osinfo import OsCatalog, OsInfo

SCHEMES = ("http", "https", "ftp", "file")
# (kernel, initrd) relative to the tree, as distributions lay them out.
COMMON_LAYOUTS = (
    ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"),  # Fedora, RHEL, CentOS, Rocky, Alma
    ("current/images/netboot/debian-installer/amd64/linux",
     "current/images/netboot/debian-installer/amd64/initrd.gz"),  # Debian, Ubuntu up to 20.04
    ("boot/x86_64/loader/linux", "boot/x86_64/loader/initrd"),  # openSUSE, SLES
)


@dataclass(frozen=True)
class TreeBoot:
    """How to boot a tree's installer."""

    url: str
    kernel_url: str
    initrd_url: str
    os: OsInfo | None    # from the tree's .treeinfo; None when the tree does not say
    cmdline: str         # what tells the installer where the tree is ("inst.repo=…"), or ""


def url_problem(url: str) -> str | None:
    """Why `url` cannot be an install tree, or None."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in SCHEMES:
        return "Give the install tree as an http://, https://, ftp:// or file:// URL."
    if parts.scheme != "file" and not parts.netloc:
        return "The URL names no server."
    return None


def locate_tree(catalog: OsCatalog | None, url: str, os_hint: OsInfo | None = None, *,
                timeout: float = 30.0) -> TreeBoot:
    """The installer of the tree at `url` (blocking; network). Raises VmguiError saying where it looked."""
    problem = url_problem(url)
    if problem:
        raise VmguiError(problem)
    base = url.strip().rstrip("/")
    detected: OsInfo | None = None
    candidates: list[tuple[str, str]] = []
    if catalog is not None:
        try:
            tree = catalog.read_tree(base, timeout=timeout)
        except ValueError as err:
            raise VmguiError(str(err)) from err
        if tree is not None:
            detected = tree.os
            if tree.kernel and tree.initrd:
                candidates.append((tree.kernel, tree.initrd))
    known = detected or os_hint
    if known is not None:
        candidates += [(t.kernel, t.initrd) for t in known.install_trees if t.kernel and t.initrd]
    candidates += list(COMMON_LAYOUTS)
    seen = set()
    for kernel, initrd in candidates:
        if (kernel, initrd) in seen:
            continue
        seen.add((kernel, initrd))
        kernel_url, initrd_url = f"{base}/{kernel.lstrip('/')}", f"{base}/{initrd.lstrip('/')}"
        if _exists(kernel_url, timeout) and _exists(initrd_url, timeout):
            argument = known.kernel_url_argument if known is not None else None
            return TreeBoot(base, kernel_url, initrd_url, detected, f"{argument}={base}" if argument else "")
    raise VmguiError(f"No installer kernel and initrd were found at {base} (looked for a .treeinfo and in "
                     f"{', '.join(sorted({k.rsplit('/', 1)[0] for k, _ in seen}))}).")


def fetch(url: str, dest: Path, *, timeout: float = 60.0, check: Callable[[], None] = lambda: None) -> int:
    """Download `url` into the file `dest` (blocking); its size in bytes. VmguiError when it fails.

    `check` is called between chunks of 64 KiB: it raises to stop the download (a cancel).
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer, open(dest, "wb") as out:
            while chunk := answer.read(64 * 1024):
                out.write(chunk)
                check()
    except (OSError, urllib.error.URLError) as err:
        raise VmguiError(f"Could not download {url}: {getattr(err, 'reason', err)}") from err
    return os.path.getsize(dest)


def _exists(url: str, timeout: float) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return os.path.isfile(urllib.request.url2pathname(parts.path))
    request = urllib.request.Request(url, method="HEAD" if parts.scheme in ("http", "https") else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return bool(200 <= getattr(answer, "status", 200) < 300)
    except (OSError, urllib.error.URLError):
        return False
