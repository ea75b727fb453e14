"""Where a guest's graphical console listens, read from its domain XML, and how vmgui reaches it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

_ANY_ADDRESS = {"", "0.0.0.0", "::", "[::]"}
_LOOPBACK = {"127.0.0.1", "::1", "localhost", "[::1]"}


@dataclass(frozen=True)
class Graphics:
    """One `<graphics>` device of a domain."""

    index: int  # its position among the domain's <graphics> (what virDomainOpenGraphicsFD takes)
    type: str  # 'vnc', 'spice', 'rdp', ...
    port: int | None  # None until the guest runs (libvirt writes -1) or when it listens on a socket
    tls_port: int | None
    autoport: bool
    listen: str  # address, '' when unset
    socket: str  # unix socket path, '' when it listens on TCP
    password: str  # only present when the XML was read with VIR_DOMAIN_XML_SECURE


def _port(value: str | None) -> int | None:
    try:
        port = int(value or "")
    except ValueError:
        return None
    return port if 0 < port < 65536 else None


def graphics_of(domain_xml: str) -> list[Graphics]:
    """All graphics devices in document order."""
    root = ET.fromstring(domain_xml)
    found: list[Graphics] = []
    for index, el in enumerate(root.findall("./devices/graphics")):
        listen = el.get("listen", "")
        sock = el.get("socket", "")
        for child in el.findall("listen"):
            kind = child.get("type")
            if kind == "address" and child.get("address"):
                listen = child.get("address", "")
            elif kind == "socket" and child.get("socket"):
                sock = child.get("socket", "")
        found.append(Graphics(
            index=index, type=el.get("type", ""), port=_port(el.get("port")), tls_port=_port(el.get("tlsPort")),
            autoport=el.get("autoport") == "yes", listen=listen, socket=sock, password=el.get("passwd", ""),
        ))
    return found


CONSOLE_TYPES = ("vnc", "spice")


def console_graphics(domain_xml: str, kinds: tuple[str, ...] = CONSOLE_TYPES) -> Graphics | None:
    """The first device (in the XML's order, as virt-manager does) of one of these types, or None."""
    return next((device for device in graphics_of(domain_xml) if device.type in kinds), None)


@dataclass(frozen=True)
class Endpoint:
    """How to open a console: a socket libvirt handed over, a TCP address or a unix socket path."""

    kind: Literal["fd", "tcp", "unix"]
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1
    password: str = ""
    protocol: Literal["vnc", "spice"] = "vnc"
    tls_port: int = 0  # SPICE only
    ca: str = ""  # PEM text of the CA that signed the SPICE server's certificate ('' = system trust)
    host_subject: str = ""  # the subject the SPICE server's certificate must carry
    proxy: str = ""  # http://host:port, an HTTP CONNECT proxy (SPICE)
    audio: bool = True  # SPICE: play the guest's sound (a .vv can disable the playback channel)
    secure_channels: tuple[str, ...] = ()  # SPICE channels that must use TLS ("main", "display", ...)
    usb_autoshare: bool = False  # SPICE: redirect USB devices plugged in while connected
    usb_filter: str = ""  # SPICE: which devices auto-redirect (usbredir filter rules)
    tunnel: tuple[str, ...] = ()  # kind "fd" through ssh: the command that opens another stream (SPICE channels)

    def describe(self) -> str:
        if self.kind == "fd":
            return f"an ssh tunnel to {self.tunnel[-1]}" if self.tunnel else "a socket from libvirt"
        if self.kind == "unix":
            return self.path
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if self.protocol == "spice" and self.tls_port and not self.port:
            return f"{host}:{self.tls_port} (TLS)"
        return f"{host}:{self.port}"


def host_of_uri(uri: str) -> str:
    """The host part of a libvirt URI ('' for a local one)."""
    return urlsplit(uri).hostname or ""


def tcp_endpoint(device: Graphics, uri: str) -> Endpoint:
    """The TCP address to reach `device` from this machine, for a libvirt connection `uri`.

    Raises ValueError with a message fit for the user when it cannot be reached directly.
    """
    remote = host_of_uri(uri)
    if remote in _LOOPBACK:
        remote = ""  # qemu+ssh://localhost/system and the like: the hypervisor runs on this machine
    if device.socket:
        if remote:
            raise ValueError(f"The console listens on a unix socket on {remote}; vmgui cannot reach it from here.")
        return Endpoint("unix", path=device.socket, password=device.password, protocol=_protocol(device))
    if device.port is None and device.tls_port is None:
        raise ValueError("The console has no port yet: the guest is not running.")
    listen = device.listen.strip("[]") if device.listen not in _ANY_ADDRESS else ""
    if not remote:
        host = listen or "127.0.0.1"
    elif not listen:
        host = remote
    elif listen in _LOOPBACK:
        raise ValueError(f"The console listens only on {remote}'s loopback address ({device.listen}); "
                         "change its listen address or open it from that host.")
    else:
        host = listen
    return Endpoint("tcp", host=host, port=device.port or 0, password=device.password, protocol=_protocol(device),
                    tls_port=device.tls_port or 0)


def loopback_target(device: Graphics, uri: str) -> tuple[str, int] | None:
    """(address, port) of a display on a remote host that listens only on that host's loopback (so it is
    reached through that host, e.g. by ssh), else None."""
    remote = host_of_uri(uri)
    listen = device.listen.strip("[]")
    if not remote or remote in _LOOPBACK or listen not in {a.strip("[]") for a in _LOOPBACK} or not device.port:
        return None
    return listen, device.port


def _protocol(device: Graphics) -> Literal["vnc", "spice"]:
    return "spice" if device.type == "spice" else "vnc"

