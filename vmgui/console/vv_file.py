"""Reads and writes virt-viewer connection files (.vv), the INI files remote-viewer opens."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

GROUP = "virt-viewer"


class VvFileError(ValueError):
    """A .vv file vmgui cannot use; the message names the line and the problem."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class ViewerFile:
    """The `[virt-viewer]` group of a .vv file. Absent strings are '', absent booleans False."""

    type: Literal["spice", "vnc"]
    host: str = ""
    port: int | None = None  # None when absent or -1 (oVirt, TLS only)
    tls_port: int | None = None
    password: str = ""
    username: str = ""
    title: str = ""
    fullscreen: bool = False
    delete_this_file: bool = False
    ca: str = ""  # PEM text with real newlines
    host_subject: str = ""
    proxy: str = ""  # http://host[:port]
    release_cursor: str = ""  # hotkeys, lower-cased: 'shift+f12'
    toggle_fullscreen: str = ""
    secure_attention: str = ""
    zoom_in: str = ""
    zoom_out: str = ""
    smartcard_insert: str = ""
    smartcard_remove: str = ""
    enable_usbredir: bool = False
    enable_usb_autoshare: bool = False
    usb_filter: str = ""
    enable_smartcard: bool = False
    secure_channels: tuple[str, ...] = ()
    disable_channels: tuple[str, ...] = ()
    color_depth: int | None = None
    disable_effects: tuple[str, ...] = ()
    tls_ciphers: str = ""
    version: str = ""  # the oldest virt-viewer the file asks for, raw
    versions: str = ""  # raw, e.g. 'rhev-win64:2.0-160;rhel7:2.0-6'
    newer_version_url: str = ""
    unknown: dict[str, str] = field(default_factory=dict, hash=False)  # other keys of the group, raw values


_STR, _HOTKEY, _BOOL, _PORT, _INT, _LIST = "str", "hotkey", "bool", "port", "int", "list"
_KINDS = {
    **dict.fromkeys(("release_cursor", "toggle_fullscreen", "secure_attention", "zoom_in", "zoom_out",
                     "smartcard_insert", "smartcard_remove"), _HOTKEY),
    **dict.fromkeys(("fullscreen", "delete_this_file", "enable_usbredir", "enable_usb_autoshare",
                     "enable_smartcard"), _BOOL),
    **dict.fromkeys(("secure_channels", "disable_channels", "disable_effects"), _LIST),
    "port": _PORT, "tls_port": _PORT, "color_depth": _INT,
}
# key in the file -> (field, kind), in the order write_vv writes them
_KEYS: dict[str, tuple[str, str]] = {
    f.name.replace("_", "-"): (f.name, _KINDS.get(f.name, _STR))
    for f in fields(ViewerFile) if f.name not in ("type", "unknown")
}
_TRUE, _FALSE = {"1", "true", "yes"}, {"0", "false", "no"}
_ESCAPES = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}


def _unescape(raw: str, separator: str = "") -> list[str]:
    """GKeyFile's string escapes (\\s \\n \\t \\r \\\\, and \\; in lists), split at an unescaped separator.

    Any other backslash stays as written.
    """
    items: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw) and (raw[i + 1] in _ESCAPES or raw[i + 1] == separator):
            out.append(_ESCAPES.get(raw[i + 1], separator))
            i += 2
            continue
        if separator and raw[i] == separator:
            items.append("".join(out))
            out = []
        else:
            out.append(raw[i])
        i += 1
    items.append("".join(out))
    return items


def _escape(value: str) -> str:
    text = value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    body = text.strip(" ")
    start = len(text) - len(text.lstrip(" "))
    return "\\s" * start + body + "\\s" * (len(text) - start - len(body))


def _check_proxy(value: str) -> str | None:
    """The problem with a proxy address, or None."""
    try:
        parts = urlsplit(value)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        return f"proxy {value!r} is not a valid address"
    if parts.scheme.lower() != "http":
        return f"proxy {value!r} is not an http:// address"
    if not parts.hostname:
        return f"proxy {value!r} has no host"
    return None


def _value(key: str, kind: str, raw: str, line: int) -> Any:
    def fail(problem: str) -> VvFileError:
        return VvFileError(f"line {line}: {problem}", line)

    if kind == _BOOL:
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise fail(f"{key} {raw!r} is not a boolean (1/0, true/false, yes/no)")
    if kind in (_PORT, _INT):
        try:
            number = int(raw)
        except ValueError:
            raise fail(f"{key} {raw!r} is not a number") from None
        if kind == _INT:
            if number < 0:
                raise fail(f"{key} {raw!r} is negative")
            return number
        if number == -1:  # oVirt's "no plain port"
            return None
        if not 0 < number < 65536:
            raise fail(f"{key} {number} is not in 1..65535")
        return number
    if kind == _LIST:
        return tuple(item.strip() for item in _unescape(raw, ";") if item.strip())
    text = _unescape(raw)[0]
    if kind == _HOTKEY:
        return text.strip().lower()
    if key == "proxy" and text:
        problem = _check_proxy(text)
        if problem:
            raise fail(problem)
    return text


def parse_vv(text: str) -> ViewerFile:
    """The `[virt-viewer]` group of a .vv file's text; raises VvFileError naming the line of the problem."""
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.replace("\r\n", "\n").split("\n")
    group: str | None = None
    header = 0  # line of the first [virt-viewer]
    seen: dict[str, int] = {}
    values: dict[str, Any] = {}
    unknown: dict[str, str] = {}
    kind_line, kind = 0, ""
    for number, full in enumerate(lines, start=1):
        line = full.rstrip("\r").strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line[1:-1].strip()
            if group == GROUP and not header:
                header = number
            continue
        key, sep, raw = line.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not key:
            raise VvFileError(f"line {number}: {line!r} is not key=value, a comment or a [group]", number)
        if group is None:
            raise VvFileError(f"line {number}: {key!r} comes before any group; a .vv file starts with [{GROUP}]",
                              number)
        if group != GROUP:
            continue
        if key in seen:
            raise VvFileError(f"line {number}: duplicate key {key!r} (first on line {seen[key]})", number)
        seen[key] = number
        if key == "type":
            kind_line, kind = number, raw.lower()
            if kind == "ovirt":
                raise VvFileError(f"line {number}: type 'ovirt' (an oVirt engine connection) is not supported",
                                  number)
            if kind not in ("spice", "vnc"):
                raise VvFileError(f"line {number}: unknown type {raw!r}; vmgui opens spice and vnc", number)
        elif key in _KEYS:
            name, value_kind = _KEYS[key]
            values[name] = _value(key, value_kind, raw, number)
        else:
            log.info("line %d: ignoring unknown .vv key %r", number, key)
            unknown[key] = raw
    last = len(lines) - 1 if len(lines) > 1 and lines[-1] == "" else len(lines)
    if not header:
        raise VvFileError(f"line {last}: end of file without a [{GROUP}] group", last)
    if not kind:
        raise VvFileError(f"line {header}: the [{GROUP}] group has no type (spice or vnc)", header)
    if values.get("port") is None and values.get("tls_port") is None:
        where = seen.get("port") or seen.get("tls-port") or header
        raise VvFileError(f"line {where}: the [{GROUP}] group has neither port nor tls-port", where)
    if kind == "vnc" and values.get("port") is None:
        raise VvFileError(f"line {kind_line}: a vnc file needs a port (tls-port is for spice)", kind_line)
    return ViewerFile(type="spice" if kind == "spice" else "vnc", unknown=unknown, **values)


def read_vv(path: Path) -> ViewerFile:
    """Parses the file at `path`; errors name it. It never deletes the file (see delete_if_asked)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise VvFileError(f"{path}: not UTF-8 text (byte {err.start})") from err
    try:
        return parse_vv(text)
    except VvFileError as err:
        raise VvFileError(f"{path}: {err}", err.line) from err


def write_vv(v: ViewerFile) -> str:
    """A .vv file's text for `v`, leaving out absent values; parse_vv(write_vv(v)) == v."""
    out = [f"[{GROUP}]", f"type={v.type}"]
    for key, (name, kind) in _KEYS.items():
        value = getattr(v, name)
        if value is None or value is False or value in ("", ()):
            continue
        if kind == _BOOL:
            text = "1"
        elif kind in (_PORT, _INT):
            text = str(value)
        elif kind == _LIST:
            text = ";".join(_escape(item).replace(";", "\\;") for item in value)
        else:
            text = _escape(value)
        out.append(f"{key}={text}")
    out.extend(f"{key}={raw}" for key, raw in v.unknown.items())
    return "\n".join(out) + "\n"


def delete_if_asked(path: Path, v: ViewerFile) -> bool:
    """Deletes the file when it says delete-this-file; True when it removed it. A missing file is no error."""
    if not v.delete_this_file:
        return False
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
