"""Viewer mode's console: a fixed address from a URL or a .vv file, as remote-viewer opens it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vmgui.console.console_url import ConsoleTarget, parse_console_url, target_from_vv
from vmgui.console.graphics import Endpoint
from vmgui.console.session import ConsoleSession
from vmgui.console.state import ConsoleState, ConsoleStatus
from vmgui.console.vv_file import ViewerFile, delete_if_asked, parse_vv, read_vv
from vmgui.core.observable import Callbacks


class ViewerSource:
    """What a viewer-mode argument names: the endpoint, a title and the .vv settings (if any)."""

    def __init__(self, endpoint: Endpoint, title: str, vv: ViewerFile | None = None) -> None:
        self.endpoint = endpoint
        self.title = title
        self.vv = vv


def endpoint_of(target: ConsoleTarget, vv: ViewerFile | None = None) -> Endpoint:
    endpoint = Endpoint("tcp", host=target.host, port=target.port or 0, tls_port=target.tls_port or 0,
                        password=target.password, protocol=target.type)
    if vv is None:
        return endpoint
    return replace(endpoint, ca=vv.ca, host_subject=vv.host_subject, proxy=vv.proxy,
                   audio=not {"playback", "all"} & set(vv.disable_channels), secure_channels=vv.secure_channels,
                   usb_autoshare=vv.enable_usb_autoshare, usb_filter=vv.usb_filter)


def _from_vv(vv: ViewerFile) -> ViewerSource:
    target = target_from_vv(vv)
    title = vv.title or f"{target.host}:{target.port or target.tls_port}"
    return ViewerSource(endpoint_of(target, vv), title, vv)


def open_source(argument: str, stdin_text: str | None = None) -> ViewerSource:
    """A URL (vnc://, spice://), a .vv file's path, or '-' for a .vv on standard input (`stdin_text`).

    Raises ValueError with a message fit for the user. A .vv that says delete-this-file is deleted
    once it has been read, as remote-viewer does.
    """
    if argument == "-":
        return _from_vv(parse_vv(stdin_text or ""))
    if "://" in argument:
        target = parse_console_url(argument)
        port = target.port or target.tls_port
        return ViewerSource(endpoint_of(target), target.title or f"{target.host}:{port}")
    path = Path(argument)
    try:
        vv = read_vv(path)
    except OSError as err:
        raise ValueError(f"cannot read {path}: {err.strerror or err}") from err
    delete_if_asked(path, vv)
    return _from_vv(vv)


class DirectConsole:
    """The Controller of a viewer-mode console: it opens the session on its endpoint when asked."""

    def __init__(self, source: ViewerSource, session: ConsoleSession) -> None:
        self.source = source
        self.session = session
        self.status = ConsoleStatus(ConsoleState.CONNECTING)
        self.status_changed: Callbacks[[ConsoleStatus]] = Callbacks()
        session.status_changed.connect(self._session_status)

    @property
    def name(self) -> str:
        return self.source.title

    def open(self) -> None:
        self.session.open(self.source.endpoint)

    def close(self) -> None:
        self.session.status_changed.disconnect(self._session_status)
        self.session.close()

    def _session_status(self, status: ConsoleStatus) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)
