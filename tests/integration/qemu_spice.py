"""A bare QEMU with a SPICE server on a TLS port (and a plain one), started without libvirt, and a throwaway CA.

No disk and no kernel: SeaBIOS prints 'No bootable device.' on the VGA text screen (720x400), light grey
(0xa8a8a8) text on black, two colours: a picture enough to see that a frame came through. QEMU's x509-dir
wants ca-cert.pem, server-cert.pem and server-key.pem.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from PySide6.QtGui import QImage

CERT_SUBJECT = "/O=vmgui tests/CN=spice-test"  # openssl -subj
HOST_SUBJECT = "O=vmgui tests,CN=spice-test"  # spice-glib's host-subject: the certificate's order, ',' between


def _openssl(directory: Path, *args: str) -> None:
    result = subprocess.run(["openssl", *args], cwd=directory, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def make_pki(directory: Path) -> tuple[Path, Path]:
    """A CA and a server certificate it signs (SAN IP:127.0.0.1) in `directory`/x509, QEMU's names; and a
    second CA that signed nothing. Returns (x509 dir, the other CA's PEM)."""
    x509 = directory / "x509"
    x509.mkdir(parents=True)
    days = "2"
    _openssl(x509, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "../ca-key.pem",
             "-out", "ca-cert.pem", "-days", days, "-subj", "/O=vmgui tests/CN=vmgui test CA")
    _openssl(x509, "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server-key.pem", "-out", "../server.csr",
             "-subj", CERT_SUBJECT)
    (directory / "server.ext").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                          "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl(x509, "x509", "-req", "-in", "../server.csr", "-CA", "ca-cert.pem", "-CAkey", "../ca-key.pem",
             "-CAcreateserial", "-CAserial", "../ca.srl", "-out", "server-cert.pem", "-days", days,
             "-extfile", "../server.ext")
    _openssl(directory, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "other-ca-key.pem",
             "-out", "other-ca.pem", "-days", days, "-subj", "/O=vmgui tests/CN=some other CA")
    return x509, directory / "other-ca.pem"


def free_port() -> int:
    """A TCP port nobody listens on now (bound to port 0 and released; QEMU takes it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def pixels(image: QImage) -> memoryview:
    rgb = image.convertToFormat(QImage.Format.Format_RGB32)
    return memoryview(bytes(rgb.constBits())).cast("I")


def differing_pixels(a: QImage, b: QImage) -> int:
    """How many pixels differ (all of them when the sizes differ)."""
    if a.size() != b.size():
        return max(a.width() * a.height(), b.width() * b.height())
    return sum(1 for x, y in zip(pixels(a), pixels(b), strict=True) if x != y)


def cursor_pixels(image: QImage) -> int:
    """A bound on what the blinking text cursor changes (it is 9x2 pixels in 720x400): 0.5% of the screen."""
    return image.width() * image.height() // 200


def distinct_colours(image: QImage) -> int:
    return len(set(pixels(image)))


class SpiceQemu:
    """qemu-system-x86_64 (TCG, 64 MiB, std VGA) with `-spice tls-port=…,port=…,x509-dir=…` and a QMP socket."""

    def __init__(self, directory: Path, x509: Path, password: str = "") -> None:
        self.directory = directory
        self.tls_port = free_port()
        self.port = free_port()
        while self.port == self.tls_port:
            self.port = free_port()
        self.qmp_path = directory / "qmp.sock"
        self.log = directory / "qemu.log"
        ticketing = "password-secret=spicepw" if password else "disable-ticketing=on"
        spice = f"tls-port={self.tls_port},port={self.port},addr=127.0.0.1,x509-dir={x509},{ticketing}"
        secret = ["-object", f"secret,id=spicepw,data={password}"] if password else []
        self.command = ["qemu-system-x86_64", "-name", "vmgui-spice-tls-test", "-machine", "pc,accel=tcg",
                        "-m", "64", "-display", "none", "-vga", "std", "-nodefaults", "-serial", "none",
                        *secret, "-spice", spice, "-qmp", f"unix:{self.qmp_path},server=on,wait=off"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_ports(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = {self.tls_port, self.port}
        while waiting:
            if self.proc.poll() is not None:
                raise RuntimeError(f"QEMU exited with {self.proc.returncode}: {' '.join(self.command)}\n"
                                   f"{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"QEMU's SPICE ports {sorted(waiting)} did not open in {timeout:g} s:\n"
                                   f"{self.output()}")
            for port in list(waiting):
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                    waiting.discard(port)
            time.sleep(0.1)

    def qmp(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        """One QMP command on a fresh connection; its 'return' (RuntimeError on an 'error')."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(30)
            s.connect(str(self.qmp_path))
            stream = s.makefile("rwb")
            json.loads(stream.readline())  # the greeting
            reply: dict[str, Any] = {}
            for message in ({"execute": "qmp_capabilities"}, {"execute": command, "arguments": arguments or {}}):
                stream.write(json.dumps(message).encode() + b"\n")
                stream.flush()
                reply = {}
                while "return" not in reply and "error" not in reply:  # skip asynchronous events
                    reply = json.loads(stream.readline())
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            return reply["return"]

    def screendump(self, path: Path) -> QImage:
        """QEMU's own picture of the screen (PPM)."""
        self.qmp("screendump", {"filename": str(path)})
        image = QImage(str(path))
        if image.isNull():
            raise RuntimeError(f"QEMU's screendump {path} is not an image")
        return image

    def wait_until_still(self, timeout: float = 90.0, still: int = 3) -> QImage:
        """Wait for SeaBIOS to finish ('No bootable device.'): screendumps a second apart that differ only by
        the blinking text cursor for `still` seconds, on a screen that is not blank (grey text on black)."""
        deadline = time.monotonic() + timeout
        before = self.screendump(self.directory / "still-0.ppm")
        quiet = 0
        for n in range(1, 10_000):
            time.sleep(1.0)
            now = self.screendump(self.directory / f"still-{n % 2}.ppm")
            same = distinct_colours(now) > 1 and differing_pixels(before, now) < cursor_pixels(now)
            quiet = quiet + 1 if same else 0
            if quiet >= still:
                return now
            if time.monotonic() > deadline:
                break
            before = now
        raise RuntimeError(f"QEMU's screen did not settle within {timeout:g} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def running_spice_qemu(directory: Path, *, password: str = "",
                       still: bool = False) -> Iterator[tuple[SpiceQemu, Path, Path]]:
    """For module fixtures: (QEMU answering on its ports, its x509 dir, a CA that signed nothing); stopped after.

    Fails under CI=true (skips otherwise) when qemu-system-x86_64 or openssl is missing.
    """
    from tests.integration.conftest import unavailable

    for tool in ("qemu-system-x86_64", "openssl"):
        if shutil.which(tool) is None:
            unavailable(f"{tool} is not installed (make test installs it)")
    x509, other_ca = make_pki(directory)
    qemu = SpiceQemu(directory, x509, password=password)
    try:
        qemu.wait_for_ports()
        if still:
            qemu.wait_until_still()
        yield qemu, x509, other_ca
    finally:
        qemu.stop()
