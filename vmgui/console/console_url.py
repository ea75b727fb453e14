"""Console addresses as remote-viewer takes them (vnc://, spice://, spice+tls://) and from .vv files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from vmgui.console.vv_file import ViewerFile

VNC_BASE_PORT = 5900
_SCHEMES = ("vnc", "spice", "spice+tls")


@dataclass(frozen=True)
class ConsoleTarget:
    """Where to open a console: a spice display needs a port or a tls_port, a vnc display a port."""

    type: Literal["spice", "vnc"]
    host: str  # IPv6 without brackets
    port: int | None
    tls_port: int | None
    password: str = ""
    title: str = ""


def _port(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise ValueError(f"{what} {text!r} is not a number")
    number = int(text)
    if not 0 < number < 65536:
        raise ValueError(f"{what} {number} is out of range")
    return number


def _split_authority(authority: str) -> tuple[str, str, str]:
    """(password, host, port text) of `[user[:password]@]host[:port]`, still percent-encoded."""
    userinfo, _, hostport = authority.rpartition("@")
    password = userinfo.partition(":")[2]
    if hostport.startswith("["):
        host, bracket, rest = hostport[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError(f"{hostport!r} is not a valid [IPv6]:port")
        return password, host, rest[1:]
    if hostport.count(":") > 1:
        raise ValueError(f"{hostport!r}: put an IPv6 address in brackets, as in [::1]:5900")
    host, _, port = hostport.partition(":")
    return password, host, port


def _query(text: str) -> dict[str, str]:
    """Percent-decoded `key=value&...` (a '+' stays a '+', as in spice-gtk); a repeated key is an error."""
    found: dict[str, str] = {}
    for pair in text.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        key = unquote(key)
        if key in found:
            raise ValueError(f"{key!r} is given twice")
        found[key] = unquote(value)
    return found


def parse_console_url(text: str) -> ConsoleTarget:
    """The console at a vnc://, spice:// or spice+tls:// address; ValueError says what is wrong with it.

    vnc://host is port 5900 and vnc://host:N with N < 100 is display N (port 5900 + N), as in remote-viewer.
    spice:// takes its ports from the authority or from `?port=N&tls-port=M`, and `password=` from the query;
    spice+tls://host:N means tls-port N.
    """
    address = text.strip()
    scheme, sep, rest = address.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _SCHEMES:
        raise ValueError(f"{address!r} is not a vnc:// or spice:// address")
    rest = rest.partition("#")[0]
    rest, _, query_text = rest.partition("?")
    authority = rest.partition("/")[0]
    user_password, host, port_text = _split_authority(authority)
    host = unquote(host)
    if not host:
        raise ValueError(f"{address!r} has no host")
    query = _query(query_text)
    password = query.get("password", unquote(user_password))
    if scheme == "vnc":
        if not port_text:
            return ConsoleTarget("vnc", host, VNC_BASE_PORT, None, password)
        if port_text.isascii() and port_text.isdigit() and int(port_text) < 100:
            return ConsoleTarget("vnc", host, VNC_BASE_PORT + int(port_text), None, password)
        return ConsoleTarget("vnc", host, _port(port_text, "port"), None, password)
    port = _port(port_text, "port") if port_text else None
    tls_port = None
    if scheme == "spice+tls":
        port, tls_port = None, port
    for key, current in (("port", port), ("tls-port", tls_port)):
        if key in query:
            if current is not None:
                raise ValueError(f"{address!r} gives the {key} twice")
            value = _port(query[key], key)
            port, tls_port = (value, tls_port) if key == "port" else (port, value)
    if port is None and tls_port is None:
        raise ValueError(f"{address!r} has neither a port nor a tls-port")
    return ConsoleTarget("spice", host, port, tls_port, password)


def target_from_vv(v: ViewerFile) -> ConsoleTarget:
    """The console a .vv file points at (its proxy, CA and other settings stay in the ViewerFile)."""
    if not v.host:
        raise ValueError("the .vv file has no host")
    return ConsoleTarget(v.type, v.host, v.port, v.tls_port, v.password, v.title)
