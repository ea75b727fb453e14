"""A guest's console as a .vv file for an external viewer (remote-viewer), as virt-manager and cockpit offer."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import libvirt

from vmgui.console.graphics import CONSOLE_TYPES, console_graphics, tcp_endpoint
from vmgui.console.guest_console import NotRunning, running_domain_xml
from vmgui.console.vv_file import ViewerFile, write_vv
from vmgui.core.errors import VmguiError

VIEWERS = ("remote-viewer",)


def viewer_file(conn: libvirt.virConnect, uuid: str, uri: str) -> ViewerFile:
    """Blocking: a .vv that opens the guest's display (by address: another program cannot use libvirt's fd)."""
    try:
        dom, xml = running_domain_xml(conn, uuid)
    except NotRunning:
        raise VmguiError("The guest is not running: start it first.") from None
    device = console_graphics(xml, CONSOLE_TYPES)
    if device is None:
        raise VmguiError("This guest has no VNC or SPICE display.")
    try:
        endpoint = tcp_endpoint(device, uri)
    except ValueError as err:
        raise VmguiError(str(err)) from err
    if endpoint.kind != "tcp":
        raise VmguiError("The display listens on a unix socket; an external viewer needs an address.")
    return ViewerFile(type=endpoint.protocol, host=endpoint.host, port=endpoint.port or None,
                      tls_port=endpoint.tls_port or None, password=endpoint.password, title=dom.name(),
                      delete_this_file=True)


def write_temporary(vv: ViewerFile) -> Path:
    """The .vv in a private temporary file (mode 0600: it may hold a password); the viewer deletes it."""
    fd, name = tempfile.mkstemp(prefix="vmgui-", suffix=".vv")
    with os.fdopen(fd, "w") as handle:
        handle.write(write_vv(vv))
    return Path(name)


def find_viewer() -> str | None:
    return next((path for name in VIEWERS if (path := shutil.which(name))), None)


def launch(path: Path, viewer: str | None = None) -> None:
    """Start the external viewer on the file, detached from vmgui. Raises VmguiError when there is none."""
    program = viewer or find_viewer()
    if program is None:
        path.unlink(missing_ok=True)
        raise VmguiError("No external viewer found: install remote-viewer (Debian package virt-viewer).")
    subprocess.Popen([program, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
