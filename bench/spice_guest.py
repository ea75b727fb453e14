"""The SPICE console bench's guest: the tiny test guest on qemu:///system, its screen scrolling without end.

It is defined as `vmgui-bench-spice-<pid>` and always destroyed and undefined again (`close()`, also
reached through `with` on Ctrl+C or SIGTERM); no other guest is touched. The redraw is started through
the serial port's shell: its pty takes input once it has been open a moment (~1.5 s).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
URI = "qemu:///system"
PREFIX = "vmgui-bench-spice-"
BOOT_TIMEOUT_S = 90.0
PTY_SETTLE_S = 1.5  # the serial pty drops what is written to it right after it is opened

#: Endless full-width random text on tty1 (128 columns of 8x16 glyphs, 48 rows): every refresh of the
#: screen sees all of it moved, so each update QEMU finds is (close to) the whole 1024x768 picture.
REDRAW = "base64 -w 127 /dev/urandom > /dev/tty1 2>&1 &"
STARTED_MARKER = "VMGUI-BENCH-REDRAW"


class GuestError(Exception):
    """The bench guest could not be started or driven; the message says why."""


def virsh(*args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise GuestError(f"virsh {' '.join(args)}: {(done.stderr or done.stdout).strip()}")
    return done


def leftovers() -> list[str]:
    """Bench guests of earlier runs whose process is gone (left behind by a SIGKILL); never removed here."""
    names = virsh("list", "--all", "--name", check=False).stdout.split()
    found = []
    for name in names:
        match = re.fullmatch(re.escape(PREFIX) + r"(\d+)", name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            found.append(name)
    return found


class BenchGuest:
    """The tiny guest with one SPICE display on 127.0.0.1, booted and scrolling: `port`, `qemu_pid`."""

    def __init__(self) -> None:
        self.name = f"{PREFIX}{os.getpid()}"
        self.port = 0
        self.qemu_pid = 0
        self.pty = ""
        self.boot_s = 0.0
        self._dir = Path(tempfile.mkdtemp(prefix="vmgui-bench-spice-"))
        self.serial_log = self._dir / "serial.log"
        self._defined = False

    def __enter__(self) -> BenchGuest:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()

    def start(self) -> None:
        """Define, boot (waits for the guest's READY marker) and start the redraw."""
        sys.path.insert(0, str(ROOT))
        from tests.guest import tiny_guest
        from tests.guest.build_tiny_guest import ensure_tiny_guest

        try:
            files = ensure_tiny_guest()
        except Exception as err:  # building it needs apt-get download of the Debian kernel
            raise GuestError(f"cannot build the tiny test guest: {err}") from err
        xml = tiny_guest.domain_xml(self.name, files, serial_log=self.serial_log, displays=("spice",),
                                    domain_type="kvm" if tiny_guest.kvm_usable() else "qemu",
                                    qemu_runs_as=tiny_guest.qemu_runs_as_for(URI))
        xml_path = self._dir / "domain.xml"
        xml_path.write_text(xml)
        started = time.monotonic()
        self._defined = True  # from here on close() undefines it (even if Ctrl+C lands inside virsh define)
        virsh("define", str(xml_path))
        virsh("start", self.name)
        if not tiny_guest.wait_for_text(self.serial_log, tiny_guest.READY_MARKER, BOOT_TIMEOUT_S):
            raise GuestError(f"{self.name} did not boot within {BOOT_TIMEOUT_S:g} s; its serial log ends:\n"
                             + self._serial_tail())
        self.boot_s = time.monotonic() - started
        display = virsh("domdisplay", self.name).stdout.strip()
        found = re.fullmatch(r"spice://[^:]+:(\d+)/?", display)
        if not found:
            raise GuestError(f"{self.name} has no plain SPICE port: domdisplay says {display!r}")
        self.port = int(found.group(1))
        self.pty = virsh("ttyconsole", self.name).stdout.strip()
        pid_file = Path(f"/run/libvirt/qemu/{self.name}.pid")
        with contextlib.suppress(OSError, ValueError):
            self.qemu_pid = int(pid_file.read_text().strip())
        self.run_on_serial(f"{REDRAW} echo {STARTED_MARKER}-$((6*7)) > /dev/ttyS0")
        if not tiny_guest.wait_for_text(self.serial_log, f"{STARTED_MARKER}-42", 20):
            raise GuestError(f"{self.name}: the redraw command did not run; its serial log ends:\n"
                             + self._serial_tail())

    def run_on_serial(self, command: str) -> None:
        """Type one command line into the shell on ttyS0 (through its pty) and leave."""
        try:
            fd = os.open(self.pty, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as err:
            raise GuestError(f"cannot open {self.name}'s serial pty {self.pty!r}: {err}") from err
        try:
            time.sleep(PTY_SETTLE_S)
            os.write(fd, command.encode() + b"\n")
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:  # drain the echo so QEMU never waits on a full pty
                try:
                    if not os.read(fd, 65536):
                        break
                except BlockingIOError:
                    time.sleep(0.05)
                except OSError:
                    break
        finally:
            os.close(fd)

    def _serial_tail(self) -> str:
        try:
            return self.serial_log.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no serial log)"

    def close(self) -> None:
        """Destroy and undefine the guest (whatever state it got to) and remove its files."""
        if self._defined:
            virsh("destroy", self.name, check=False)
            virsh("undefine", self.name, check=False)
            self._defined = False
        for path in sorted(self._dir.glob("*")):
            with contextlib.suppress(OSError):
                path.unlink()
        with contextlib.suppress(OSError):
            self._dir.rmdir()
