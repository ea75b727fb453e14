"""The tiny Linux guest: Debian's kernel plus a busybox-only initramfs, built and cached (blocking).

vmgui's demo desktop pool boots it, and so do the tests against a real libvirtd. The build needs a
Debian-like host: `apt-get download` fetches linux-image-amd64 (and busybox-static when it is not
installed); nothing is installed. A build goes into a temporary directory and is renamed into the cache
at the end, so an interrupted or cancelled build leaves no half-made guest in the cache.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

#: Printed on the serial port (ttyS0) once the interactive shell on tty1 is about to read input.
READY_MARKER = "VMGUI-TINY-GUEST READY"
#: Printed on the serial port by /init before it hands over to busybox init.
BOOTED_MARKER = "VMGUI-TINY-GUEST BOOTED"
#: Printed on the serial port when the ACPI power button was pressed (libvirt's default shutdown).
POWER_BUTTON_MARKER = "VMGUI-TINY-GUEST POWER-BUTTON"
#: Printed on the serial port by busybox init's shutdown action, just before it powers off.
SHUTDOWN_MARKER = "VMGUI-TINY-GUEST SHUTTING-DOWN"

#: Bump when the build changes in a way the guest scripts below do not show.
RECIPE_VERSION = "1"

#: Kernel command line: consoles on tty1 (framebuffer, what VNC shows) and ttyS0 (the serial log;
#: last, so it is /dev/console), a 1024x768 VESA framebuffer, and no attempts at a root disk.
KERNEL_CMDLINE = "console=tty1 console=ttyS0,115200 vga=0x318 rdinit=/init"

KERNEL_META_PACKAGE = "linux-image-amd64"
BUSYBOX_PACKAGE = "busybox-static"

#: Kernel options the guest cannot do without (all must be built in: the guest has no disk for modules).
REQUIRED_BUILTIN = (
    "BLK_DEV_INITRD",
    "RD_GZIP",
    "DEVTMPFS",
    "VT",
    "FB_VESA",
    "FRAMEBUFFER_CONSOLE",
    "SERIAL_8250",
    "SERIAL_8250_CONSOLE",
    "SERIO_I8042",
    "KEYBOARD_ATKBD",
)
#: Kernel options the power-button path needs: built in, or a module that goes into the initramfs.
#: Maps the config option to its module name.
BUILTIN_OR_MODULE = {"INPUT_EVDEV": "evdev", "ACPI_BUTTON": "button"}

_INIT = f"""#!/bin/sh
# PID 1 of the vmgui tiny test guest: mounts the basics, loads the few modules, starts busybox init.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
hostname vmgui-tiny
while read -r module; do
    insmod "/lib/modules/$module" || echo "vmgui-tiny: insmod $module failed" > /dev/ttyS0
done < /lib/modules/load-order
# The ACPI power button is an input device: busybox acpid runs /etc/acpi/PWRF/00000080 on a press.
acpid -c /etc/acpi -l /var/log/acpid.log
# From here on only warnings and worse reach the consoles, so tty1 stays readable.
dmesg -n 4
echo "{BOOTED_MARKER}" > /dev/ttyS0
exec /sbin/init
"""

_INITTAB = """\
tty1::respawn:/etc/vmgui/tty1-shell
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/sbin/reboot
::shutdown:/etc/vmgui/on-shutdown
"""

_TTY1_SHELL = f"""#!/bin/sh
# Interactive shell on the framebuffer console (what VNC shows); announces itself on the serial port.
printf '\\033[H\\033[2J'
# Bars of the 16 console colours: gives screenshots and VNC tests something unmistakable to see.
for colour in 0 1 2 3 4 5 6 7; do
    printf '\\033[4%sm      ' "$colour"
done
printf '\\033[0m\\n'
for colour in 0 1 2 3 4 5 6 7; do
    printf '\\033[1;3%sm######' "$colour"
done
printf '\\033[0m\\n'
echo "vmgui tiny test guest on $(tty)"
echo "Anything run here can report on the serial port: echo X > /dev/ttyS0"
echo "{READY_MARKER}" > /dev/ttyS0
exec /bin/sh -l
"""

_ON_SHUTDOWN = f"""#!/bin/sh
echo "{SHUTDOWN_MARKER}" > /dev/ttyS0
"""

_POWER_BUTTON = f"""#!/bin/sh
# Run by busybox acpid for the ACPI power button (libvirt's default `virsh shutdown`).
echo "{POWER_BUTTON_MARKER}" > /dev/ttyS0
poweroff
"""

_PROFILE = """\
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root
export PS1='tiny:\\w# '
"""

_PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
_GROUP = "root:x:0:\n"


@dataclass(frozen=True)
class TinyGuestFiles:
    """A built tiny guest: boot it with `kernel` + `initrd` (no disk needed)."""

    kernel: Path
    initrd: Path
    kernel_release: str

    @property
    def directory(self) -> Path:
        return self.kernel.parent


class BuildError(RuntimeError):
    """The tiny guest could not be built (missing tool, package or kernel feature)."""


class BuildCancelled(BuildError):
    """The build was cancelled; nothing of it was kept."""


Progress = Callable[[str], None]


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/vmgui/tiny-guest`, by default `~/.cache/vmgui/tiny-guest`."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "vmgui" / "tiny-guest"


def recipe_key() -> str:
    """Names a build: changes whenever the guest's scripts or the recipe version change."""
    digest = hashlib.sha256()
    for part in (RECIPE_VERSION, _INIT, _INITTAB, _TTY1_SHELL, _ON_SHUTDOWN, _POWER_BUTTON, _PROFILE):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def cached_tiny_guest(cache_dir: Path | None = None) -> TinyGuestFiles | None:
    """The tiny guest when the cache holds it, else None (nothing is built)."""
    return _load(_cache_root(cache_dir) / f"guest-{recipe_key()}")


def _cache_root(cache_dir: Path | None) -> Path:
    return (cache_dir if cache_dir is not None else default_cache_dir()).expanduser().absolute()


def ensure_tiny_guest(cache_dir: Path | None = None, *, progress: Progress | None = None,
                      cancel: threading.Event | None = None) -> TinyGuestFiles:
    """Return the cached tiny guest, building it first (atomically, into a temp dir) if absent.

    `progress` hears what the build is doing; setting `cancel` stops it (BuildCancelled), keeping nothing.
    """
    cache = _cache_root(cache_dir)
    final = cache / f"guest-{recipe_key()}"
    cached = _load(final)
    if cached is not None:
        return cached
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache))
    try:
        _build_into(work, _Job(progress or (lambda _step: None), cancel or threading.Event()))
        work.chmod(0o755)
        try:
            work.rename(final)
        except OSError:
            # Another process finished the same build first (keep its result), or a broken
            # leftover is in the way (move it aside, then take its place).
            if _load(final) is None:
                stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=cache))
                final.rename(stale / final.name)
                shutil.rmtree(stale, ignore_errors=True)
                work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    built = _load(final)
    if built is None:
        raise BuildError(f"built the tiny guest but {final} is incomplete")
    return built


def _load(directory: Path) -> TinyGuestFiles | None:
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    files = TinyGuestFiles(
        kernel=directory / "vmlinuz",
        initrd=directory / "initrd.gz",
        kernel_release=str(manifest.get("kernel_release", "")),
    )
    if not (files.kernel.is_file() and files.initrd.is_file()):
        return None
    return files


# --- the build ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    """One build's progress listener and cancel flag."""

    progress: Progress
    cancel: threading.Event

    def check(self) -> None:
        if self.cancel.is_set():
            raise BuildCancelled("the tiny guest's build was cancelled")


_NO_JOB = _Job(lambda _step: None, threading.Event())


def _build_into(out: Path, job: _Job = _NO_JOB) -> None:
    downloads = out / "downloads"
    downloads.mkdir()
    downloads.chmod(0o755)  # apt's _apt user may then fetch into it (else apt warns and goes on)

    job.progress(f"Looking up Debian's kernel package ({KERNEL_META_PACKAGE})…")
    kernel_package = resolve_kernel_package(job)
    job.progress(f"Downloading {kernel_package} with apt-get (about 70 MB)…")
    kernel_deb = _apt_download(kernel_package, downloads, job)
    job.progress(f"Unpacking the kernel from {kernel_package}…")
    # One pass over the package: the kernel, its config and the modules the guest may need.
    maybe_modules = frozenset(BUILTIN_OR_MODULE.values())

    def wanted(name: str) -> bool:
        is_boot_file = re.fullmatch(r"boot/(vmlinuz|config)-.+", name) is not None
        return is_boot_file or _is_module_in(maybe_modules, name)

    kernel = _read_deb(kernel_deb, wanted, job)
    vmlinuz = [n for n in kernel if n.startswith("boot/vmlinuz-")]
    configs = [n for n in kernel if n.startswith("boot/config-")]
    if len(vmlinuz) != 1 or len(configs) != 1:
        raise BuildError(f"{kernel_deb.name}: expected one vmlinuz and one config, got {sorted(kernel)}")
    release = vmlinuz[0].removeprefix("boot/vmlinuz-")
    config = _parse_kconfig(kernel[configs[0]].decode())
    prefetched = {
        name: _decompress_module(path, blob)
        for path, blob in kernel.items()
        if (name := _module_name(path)) is not None
    }
    modules = _modules_for(config, kernel_deb, release, prefetched, job)

    busybox, busybox_version = _busybox_binary(downloads, job)

    job.check()
    job.progress("Packing busybox into the initramfs…")
    initramfs = _initramfs(busybox, modules)
    (out / "vmlinuz").write_bytes(kernel[vmlinuz[0]])
    (out / "initrd.gz").write_bytes(initramfs)
    manifest = {
        "recipe": recipe_key(),
        "kernel_package": kernel_package,
        "kernel_release": release,
        "busybox_version": busybox_version,
        "modules": [name for name, _ in modules],
        "initrd_bytes": len(initramfs),
        "ready_marker": READY_MARKER,
    }
    shutil.rmtree(downloads)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for path in out.iterdir():
        path.chmod(0o644)


def _run(cmd: list[str], cwd: Path | None = None, job: _Job = _NO_JOB,
         timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """Run a command to its end (stopped on cancel or after `timeout` seconds)."""
    job.check()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "LC_ALL": "C"})
    except FileNotFoundError as exc:
        raise BuildError(f"{cmd[0]} is not installed (the tiny guest needs a Debian host)") from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=0.2)
        except subprocess.TimeoutExpired:
            if job.cancel.is_set() or time.monotonic() > deadline:
                proc.kill()
                proc.communicate()
                job.check()
                raise BuildError(f"{' '.join(cmd)} did not finish within {timeout:g} s") from None
            continue
        return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _apt_update(job: _Job = _NO_JOB) -> None:
    job.progress("Updating apt's package lists (apt-get update)…")
    done = _run(["apt-get", "update"], job=job)
    if done.returncode != 0:
        raise BuildError(f"apt-get update failed (are you root?):\n{done.stderr.strip()}")


def resolve_kernel_package(job: _Job = _NO_JOB) -> str:
    """The real kernel package behind `linux-image-amd64`, e.g. `linux-image-6.1.0-56-amd64`."""
    for attempt in range(2):
        done = _run(["apt-cache", "depends", KERNEL_META_PACKAGE], job=job)
        found = re.findall(r"^\s*Depends:\s*(linux-image-\d\S*)\s*$", done.stdout, re.MULTILINE)
        if found:
            return str(found[0])
        if attempt == 0:
            _apt_update(job)
    raise BuildError(f"apt-cache knows no kernel behind {KERNEL_META_PACKAGE}: {done.stderr.strip()}")


def _apt_download(package: str, into: Path, job: _Job = _NO_JOB) -> Path:
    for attempt in range(2):
        done = _run(["apt-get", "download", package], cwd=into, job=job)
        debs = sorted(into.glob(f"{package}_*.deb"))
        if done.returncode == 0 and debs:
            return debs[-1]
        if attempt == 0:
            _apt_update(job)
    raise BuildError(f"apt-get download {package} failed:\n{done.stderr.strip()}")


def _read_deb(deb: Path, wanted: Callable[[str], bool], job: _Job = _NO_JOB) -> dict[str, bytes]:
    """Regular files of a .deb whose path (without a leading './') `wanted` accepts, streamed."""
    job.check()
    found: dict[str, bytes] = {}
    try:
        proc = subprocess.Popen(
            ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except FileNotFoundError as exc:
        raise BuildError("dpkg-deb is not installed (the tiny guest needs a Debian host)") from exc
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|*") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if member.isfile() and wanted(name):
                extracted = tar.extractfile(member)
                if extracted is not None:
                    found[name] = extracted.read()
    _, stderr = proc.communicate()
    if proc.returncode != 0:
        raise BuildError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {stderr.decode().strip()}")
    return found


def _parse_kconfig(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"CONFIG_(\w+)=(.*)", line.strip())
        if match:
            values[match[1]] = match[2]
    return values


def _modules_for(
    config: dict[str, str], kernel_deb: Path, release: str, prefetched: dict[str, bytes], job: _Job = _NO_JOB
) -> list[tuple[str, bytes]]:
    """Check the kernel's config; return (file name, contents) of the modules to load, deps first.

    `prefetched` maps module names to (decompressed) contents already read from `kernel_deb`;
    dependencies not among them are read in further passes over the package.
    """
    missing = [opt for opt in REQUIRED_BUILTIN if config.get(opt) != "y"]
    if missing:
        raise BuildError(f"kernel {release} lacks built-in CONFIG_{', CONFIG_'.join(missing)}")
    wanted: set[str] = set()
    for option, module in BUILTIN_OR_MODULE.items():
        value = config.get(option)
        if value == "m":
            wanted.add(module)
        elif value != "y":
            raise BuildError(f"kernel {release} has no CONFIG_{option}")
    available = dict(prefetched)
    depends: dict[str, list[str]] = {}
    while todo := wanted - depends.keys():
        absent = frozenset(todo - available.keys())
        if absent:
            for path, blob in _read_deb(kernel_deb, partial(_is_module_in, absent), job).items():
                available[_module_name(path) or ""] = _decompress_module(path, blob)
            if absent - available.keys():
                raise BuildError(f"{kernel_deb.name} has no module(s) {sorted(absent - available.keys())}")
        for name in todo:
            deps = _modinfo(available[name]).get("depends", "")
            depends[name] = [_normal(dep) for dep in deps.split(",") if dep.strip()]
            wanted.update(depends[name])
    order: list[str] = []

    def visit(name: str, seen: frozenset[str]) -> None:
        if name in order or name in seen:
            return
        for dep in depends[name]:
            visit(dep, seen | {name})
        order.append(name)

    for name in sorted(wanted):
        visit(name, frozenset())
    return [(f"{name}.ko", available[name]) for name in order]


def _is_module_in(names: frozenset[str], path: str) -> bool:
    return _module_name(path) in names


def _normal(module: str) -> str:
    return module.strip().replace("-", "_")


def _module_name(path: str) -> str | None:
    match = re.fullmatch(r"lib/modules/[^/]+/kernel/.+/([^/]+)\.ko(\.xz)?", path) or re.fullmatch(
        r"usr/lib/modules/[^/]+/kernel/.+/([^/]+)\.ko(\.xz)?", path
    )
    return _normal(match[1]) if match else None


def _decompress_module(path: str, blob: bytes) -> bytes:
    return lzma.decompress(blob) if path.endswith(".xz") else blob


def _elf_sections(data: bytes) -> dict[str, bytes]:
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise BuildError("not a little-endian 64-bit ELF file")
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
    strtab_offset, strtab_size = headers[shstrndx][4], headers[shstrndx][5]
    strtab = data[strtab_offset : strtab_offset + strtab_size]
    sections: dict[str, bytes] = {}
    for name_offset, _type, _flags, _addr, offset, size in headers:
        name = strtab[name_offset : strtab.index(b"\0", name_offset)].decode()
        sections[name] = data[offset : offset + size]
    return sections


def _modinfo(module: bytes) -> dict[str, str]:
    info: dict[str, str] = {}
    for entry in _elf_sections(module).get(".modinfo", b"").split(b"\0"):
        key, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            info.setdefault(key, value)
    return info


def _is_static_elf(data: bytes) -> bool:
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return False
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    return all(struct.unpack_from("<I", data, phoff + i * phentsize)[0] != pt_interp for i in range(phnum))


def _busybox_binary(downloads: Path, job: _Job = _NO_JOB) -> tuple[bytes, str]:
    """Static busybox from the installed busybox-static package, else from a downloaded one."""
    status = _run(["dpkg-query", "-W", "-f", "${Status}\t${Version}", BUSYBOX_PACKAGE], job=job)
    state, _, version = status.stdout.partition("\t")
    if status.returncode == 0 and state.endswith(" installed"):
        listed = _run(["dpkg-query", "-L", BUSYBOX_PACKAGE], job=job).stdout.split()
        for candidate in ("/bin/busybox", "/usr/bin/busybox"):
            if candidate in listed and Path(candidate).is_file():
                data = Path(candidate).read_bytes()
                if _is_static_elf(data):
                    return data, version
    job.progress(f"Downloading {BUSYBOX_PACKAGE} with apt-get…")
    deb = _apt_download(BUSYBOX_PACKAGE, downloads, job)
    files = _read_deb(deb, lambda name: name in ("bin/busybox", "usr/bin/busybox"), job)
    if not files:
        raise BuildError(f"{deb.name} has no busybox binary")
    data = next(iter(files.values()))
    if not _is_static_elf(data):
        raise BuildError(f"{deb.name}: busybox is not statically linked")
    return data, deb.name.split("_")[1]


# --- initramfs (gzip'd "newc" cpio, written here so no root or mknod is needed) ---------------


class _Cpio:
    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._inode = 1

    def _add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        nlink = 2 if mode & 0o170000 == 0o040000 else 1
        fields = (self._inode, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0)
        self._inode += 1
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._chunks.append(_pad4(header + encoded))
        self._chunks.append(_pad4(data))

    def directory(self, name: str, perm: int = 0o755) -> None:
        self._add(name, 0o040000 | perm)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self._add(name, 0o100000 | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self._add(name, 0o120777, target.encode())

    def char_device(self, name: str, major: int, minor: int, perm: int = 0o600) -> None:
        self._add(name, 0o020000 | perm, rdev=(major, minor))

    def finish(self) -> bytes:
        self._add("TRAILER!!!", 0)
        return b"".join(self._chunks)


def _pad4(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _initramfs(busybox: bytes, modules: Iterable[tuple[str, bytes]]) -> bytes:
    cpio = _Cpio()
    for directory in (
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "etc",
        "etc/vmgui",
        "etc/acpi",
        "etc/acpi/PWRF",
        "dev",
        "proc",
        "sys",
        "run",
        "var",
        "var/log",
        "lib",
        "lib/modules",
    ):
        cpio.directory(directory)
    cpio.directory("root", 0o700)
    cpio.directory("tmp", 0o1777)
    cpio.char_device("dev/console", 5, 1)
    cpio.char_device("dev/null", 1, 3, 0o666)
    cpio.file("bin/busybox", busybox, 0o755)
    cpio.symlink("bin/sh", "busybox")
    cpio.symlink("sbin/init", "../bin/busybox")
    cpio.symlink("var/run", "../run")
    cpio.file("init", _INIT.encode(), 0o755)
    cpio.file("etc/inittab", _INITTAB.encode())
    cpio.file("etc/vmgui/tty1-shell", _TTY1_SHELL.encode(), 0o755)
    cpio.file("etc/vmgui/on-shutdown", _ON_SHUTDOWN.encode(), 0o755)
    cpio.file("etc/acpi/PWRF/00000080", _POWER_BUTTON.encode(), 0o755)
    cpio.file("etc/profile", _PROFILE.encode())
    cpio.file("etc/passwd", _PASSWD.encode())
    cpio.file("etc/group", _GROUP.encode())
    order: list[str] = []
    for name, data in modules:
        cpio.file(f"lib/modules/{name}", data)
        order.append(name)
    cpio.file("lib/modules/load-order", "".join(f"{name}\n" for name in order).encode())
    return gzip.compress(cpio.finish(), compresslevel=9, mtime=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cache", type=Path, help=f"cache directory (default {default_cache_dir()})")
    args = parser.parse_args(argv)
    try:
        files = ensure_tiny_guest(args.cache, progress=lambda step: print(step, file=sys.stderr))
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"kernel {files.kernel}")
    print(f"initrd {files.initrd}")
    print(f"release {files.kernel_release}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
