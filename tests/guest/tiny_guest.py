"""libvirt domain XML for the tiny test guest, plus the host checks and screenshot helpers tests need."""

from __future__ import annotations

import fcntl
import os
import struct
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

from .build_tiny_guest import (
    BOOTED_MARKER,
    KERNEL_CMDLINE,
    POWER_BUTTON_MARKER,
    READY_MARKER,
    SHUTDOWN_MARKER,
    TinyGuestFiles,
    ensure_tiny_guest,
)

__all__ = [
    "BOOTED_MARKER",
    "KERNEL_CMDLINE",
    "POWER_BUTTON_MARKER",
    "READY_MARKER",
    "SHUTDOWN_MARKER",
    "TinyGuestFiles",
    "decode_screenshot",
    "distinct_colours",
    "domain_xml",
    "ensure_tiny_guest",
    "kvm_usable",
    "qemu_runs_as_for",
    "screenshot_to_png",
    "system_seclabel",
    "wait_for_text",
]

_KVM_GET_API_VERSION = 0xAE00
_KVM_CREATE_VM = 0xAE01
_KVM_API_VERSION = 12


def kvm_usable() -> bool:
    """True only when /dev/kvm opens read-write, answers as KVM and the CPU has VT-x/AMD-V.

    Opening is not enough: some sandboxes hand out a /dev/kvm that creates VMs yet cannot run a
    real guest (QEMU aborts setting MSRs, or the kernel hangs early), and those CPUs show neither
    `vmx` nor `svm` in /proc/cpuinfo, so that is checked too.
    """
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if fcntl.ioctl(fd, _KVM_GET_API_VERSION) != _KVM_API_VERSION:
            return False
        os.close(fcntl.ioctl(fd, _KVM_CREATE_VM, 0))
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            flags = value.split()
            return "vmx" in flags or "svm" in flags
    return False


def domain_xml(
    name: str,
    files: TinyGuestFiles,
    *,
    serial_log: Path | None,
    displays: tuple[str, ...] = ("vnc",),
    memory_mib: int = 96,
    domain_type: str = "qemu",
    qemu_runs_as: tuple[int, int] | None = None,
) -> str:
    """Domain XML that boots the tiny guest straight from its kernel and initramfs, with no disks.

    `serial_log` gets everything the guest writes to ttyS0 (boot log and the markers); the port is
    a pty as well, so `virsh console` works. `domain_type` is 'qemu' (TCG) or 'kvm'.
    `qemu_runs_as=(uid, gid)` makes a system libvirtd run this guest's QEMU as that user without
    relabelling anything (see `system_seclabel`); None keeps the daemon's own settings.
    """
    domain = ET.Element("domain", type=domain_type)
    ET.SubElement(domain, "name").text = name
    ET.SubElement(domain, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(domain, "vcpu").text = "1"
    os_el = ET.SubElement(domain, "os")
    ET.SubElement(os_el, "type", arch="x86_64", machine="pc").text = "hvm"
    ET.SubElement(os_el, "kernel").text = str(files.kernel)
    ET.SubElement(os_el, "initrd").text = str(files.initrd)
    ET.SubElement(os_el, "cmdline").text = KERNEL_CMDLINE
    features = ET.SubElement(domain, "features")
    ET.SubElement(features, "acpi")  # the power button (`virsh shutdown`) needs ACPI
    ET.SubElement(features, "apic")
    ET.SubElement(domain, "clock", offset="utc")
    ET.SubElement(domain, "on_poweroff").text = "destroy"
    ET.SubElement(domain, "on_reboot").text = "restart"
    ET.SubElement(domain, "on_crash").text = "destroy"
    devices = ET.SubElement(domain, "devices")
    serial = ET.SubElement(devices, "serial", type="pty")
    if serial_log is not None:
        ET.SubElement(serial, "log", file=str(serial_log), append="off")
    ET.SubElement(serial, "target", port="0")
    console = ET.SubElement(devices, "console", type="pty")
    ET.SubElement(console, "target", type="serial", port="0")
    for kind in displays:  # 'vnc' and/or 'spice', in this order (a console opens the first)
        graphics = ET.SubElement(devices, "graphics", type=kind, port="-1", autoport="yes")
        graphics.set("listen", "127.0.0.1")
        ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
    if "spice" in displays:  # the agent's channel (no agent runs in the guest) and a USB redirection channel
        ET.SubElement(devices, "channel", type="spicevmc").append(
            ET.Element("target", type="virtio", name="com.redhat.spice.0"))
        ET.SubElement(devices, "redirdev", bus="usb", type="spicevmc")
        sound = ET.SubElement(devices, "sound", model="ich9")  # played through SPICE's playback channel
        ET.SubElement(sound, "audio", id="1")
        ET.SubElement(devices, "audio", id="1", type="spice")  # with VNC too, libvirt would pick 'none'
    video = ET.SubElement(devices, "video")
    # Standard VGA has the VBE modes that `vga=0x318` asks the kernel's vesafb for.
    ET.SubElement(video, "model", type="vga", vram="16384", heads="1", primary="yes")
    ET.SubElement(devices, "memballoon", model="none")
    if qemu_runs_as is not None:
        domain.append(system_seclabel(*qemu_runs_as))
    ET.indent(domain)
    return ET.tostring(domain, encoding="unicode") + "\n"


def qemu_runs_as_for(uri: str) -> tuple[int, int] | None:
    """The `qemu_runs_as` that makes the guest's files readable by QEMU under this libvirt URI.

    A privileged QEMU driver (qemu:///system, and qemu:///session when root, which libvirt serves
    from the same daemon) runs QEMU as its own user (Debian: libvirt-qemu) and can then not read
    files under a 0700 home; running this guest's QEMU as the caller fixes that. An unprivileged
    session already runs QEMU as the caller and refuses DAC labels, so None there.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme.split("+")[0] != "qemu":
        return None
    privileged = parts.path == "/system" or (parts.path == "/session" and os.geteuid() == 0)
    return (os.getuid(), os.getgid()) if privileged else None


def system_seclabel(uid: int, gid: int) -> ET.Element:
    """`<seclabel>` running QEMU as uid:gid with no relabelling of the kernel and initrd files."""
    seclabel = ET.Element("seclabel", type="static", model="dac", relabel="no")
    ET.SubElement(seclabel, "label").text = f"+{uid}:+{gid}"
    return seclabel


def wait_for_text(path: Path, text: str, timeout: float, poll: float = 0.1) -> bool:
    """Wait until the file (a serial log) contains `text`; False on timeout."""
    needle = text.encode()
    deadline = time.monotonic() + timeout
    while True:
        try:
            if needle in path.read_bytes():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)


def _parse_ppm(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a binary P6 PPM with maxval 255."""
    fields: list[bytes] = []
    pos = 2
    while len(fields) < 3:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    width, height, maxval = (int(field) for field in fields)
    if maxval != 255:
        raise ValueError(f"PPM maxval {maxval} is not supported")
    pixels = data[pos + 1 : pos + 1 + width * height * 3]
    if len(pixels) != width * height * 3:
        raise ValueError("truncated PPM")
    return width, height, pixels


def _parse_png(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of an 8-bit, non-interlaced RGB or RGBA PNG (what QEMU writes)."""
    pos = 8
    idat: list[bytes] = []
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
            channels = {2: 3, 6: 4}.get(colour_type, 0)
            if depth != 8 or not channels or interlace:
                raise ValueError(f"PNG depth {depth} colour type {colour_type} is not supported")
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows: list[bytearray] = []
    previous = bytearray(stride)
    for row_index in range(height):
        start = row_index * (stride + 1)
        filter_type = raw[start]
        row = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up = previous[i]
            if filter_type == 1:
                row[i] = (row[i] + left) & 0xFF
            elif filter_type == 2:
                row[i] = (row[i] + up) & 0xFF
            elif filter_type == 3:
                row[i] = (row[i] + ((left + up) >> 1)) & 0xFF
            elif filter_type == 4:
                upper_left = previous[i - channels] if i >= channels else 0
                estimate = left + up - upper_left
                distances = (abs(estimate - left), abs(estimate - up), abs(estimate - upper_left))
                predictor = (left, up, upper_left)[distances.index(min(distances))]
                row[i] = (row[i] + predictor) & 0xFF
        rows.append(row)
        previous = row
    pixels = b"".join(rows)
    if channels == 4:
        pixels = b"".join(pixels[i : i + 3] for i in range(0, len(pixels), 4))
    return width, height, pixels


def decode_screenshot(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a `virsh screenshot`: PNG or P6 PPM, whichever QEMU wrote."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _parse_png(data)
    if data.startswith(b"P6"):
        return _parse_ppm(data)
    raise ValueError("screenshot is neither PNG nor P6 PPM")


def screenshot_to_png(data: bytes) -> bytes:
    """A `virsh screenshot` as PNG: returned as is when it already is one, else converted (stdlib)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return data
    width, height, pixels = decode_screenshot(data)
    stride = width * 3
    raw = b"".join(b"\0" + pixels[row * stride : (row + 1) * stride] for row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


def distinct_colours(screenshot: bytes) -> int:
    """How many different RGB values a screenshot (PNG or PPM) holds; the guest's tty1 shows 17+."""
    _, _, pixels = decode_screenshot(screenshot)
    return len({pixels[i : i + 3] for i in range(0, len(pixels), 3)})
