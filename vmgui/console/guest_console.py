"""A libvirt guest's console: finds where its display listens, opens a session, follows the guest's state.

For a local hypervisor the socket comes from `virDomainOpenGraphicsFD` (no TCP port, no password);
otherwise vmgui connects to the address in the domain XML. When the guest stops, the console says so,
and when it runs again (or its display drops while it runs, as in a QEMU restart) it reconnects.
"""

from __future__ import annotations

import asyncio
import logging

import libvirt

from vmgui.console.graphics import (
    CONSOLE_TYPES,
    Endpoint,
    console_graphics,
    graphics_of,
    loopback_target,
    tcp_endpoint,
)
from vmgui.console.session import ConsoleSession
from vmgui.console.ssh_tunnel import open_stream, ssh_argv
from vmgui.console.state import CLOSED, ConsoleState, ConsoleStatus
from vmgui.core.connection import Connection, GuestChanges
from vmgui.core.domstate import GuestState
from vmgui.core.errors import VmguiError, describe
from vmgui.core.observable import Callbacks
from vmgui.core.uris import is_local

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1.0, 2.0, 3.0, 5.0)  # while the guest runs but its display does not answer
_RUNNING = {GuestState.RUNNING, GuestState.PAUSED, GuestState.BLOCKED, GuestState.PMSUSPENDED}


class NotRunning(Exception):
    pass


def running_domain_xml(conn: libvirt.virConnect, uuid: str) -> tuple[libvirt.virDomain, str]:
    """Blocking: the running guest and its XML, with the display's password where the connection may read it.

    Raises NotRunning, or VmguiError saying why not.
    """
    try:
        dom = conn.lookupByUUIDString(uuid)
        if not dom.isActive():
            raise NotRunning()
        try:
            xml = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_SECURE)  # with the display's password, when allowed
        except libvirt.libvirtError:
            xml = dom.XMLDesc(0)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            raise VmguiError("The guest no longer exists.") from err
        raise VmguiError(describe(err, "read the guest's display settings")) from err
    return dom, xml


def find_endpoint(conn: libvirt.virConnect, uuid: str, uri: str,
                  kinds: tuple[str, ...] = CONSOLE_TYPES) -> Endpoint:
    """Blocking: how to reach the guest's display now. Raises NotRunning, or VmguiError saying why not."""
    dom, xml = running_domain_xml(conn, uuid)
    device = console_graphics(xml, kinds)
    if device is None:
        others = sorted({g.type.upper() for g in graphics_of(xml)})
        if others:
            raise VmguiError(f"This guest has no {'/'.join(k.upper() for k in kinds)} display "
                             f"(it has {', '.join(others)}).")
        raise VmguiError("This guest has no graphical display. Add a VNC display in its settings.")
    if is_local(uri) and device.type == "vnc":  # SPICE would need a socket per channel: it uses the address
        try:
            fd = dom.openGraphicsFD(device.index, libvirt.VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH)
            return Endpoint("fd", fd=fd)
        except libvirt.libvirtError as err:  # old hypervisor, or a driver without it: use the address
            log.debug("openGraphicsFD failed, using the listen address: %s", err)
    target = loopback_target(device, uri)
    argv = ssh_argv(uri, *target) if target is not None else None
    if argv is not None:  # a qemu+ssh host whose display listens on its loopback: through ssh, as libvirt
        try:
            fd = open_stream(argv)
        except OSError as err:
            raise VmguiError(f"Could not start ssh to reach the console: {err}") from err
        return Endpoint("fd", fd=fd, password=device.password, protocol="spice" if device.type == "spice" else "vnc",
                        tunnel=tuple(argv))
    try:
        return tcp_endpoint(device, uri)
    except ValueError as err:
        raise VmguiError(str(err)) from err


class GuestConsole:
    """Keeps `session` connected to the guest `uuid` on `connection` while the guest runs."""

    def __init__(self, connection: Connection, uuid: str, session: ConsoleSession,
                 retry_delays: tuple[float, ...] = RETRY_DELAYS, kinds: tuple[str, ...] = CONSOLE_TYPES) -> None:
        self.connection = connection
        self.uuid = uuid
        self.session = session
        self.kinds = kinds  # the display types to use, in order of preference
        self.status = ConsoleStatus(ConsoleState.CONNECTING)
        self.status_changed: Callbacks[[ConsoleStatus]] = Callbacks()
        self._retry_delays = retry_delays
        self._attempt = 0
        self.retrying = False  # a reconnect is scheduled
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._was_running = self._guest_running()
        session.status_changed.connect(self._session_status)
        connection.guests_changed.connect(self._guests_changed)

    @property
    def name(self) -> str:
        guest = self.connection.guests.get(self.uuid)
        return guest.name if guest is not None else self.uuid

    def open(self) -> None:
        """Connect now (again)."""
        self._attempt = 0
        self._start(0.0)

    def close(self) -> None:
        self._closed = True
        self._cancel()
        self.session.status_changed.disconnect(self._session_status)
        self.connection.guests_changed.disconnect(self._guests_changed)
        self.session.close()

    # ---- internals ------------------------------------------------------------------------------

    def _guest_running(self) -> bool:
        guest = self.connection.guests.get(self.uuid)
        return guest is not None and guest.state in _RUNNING

    def _start(self, delay: float) -> None:
        self._cancel()
        self._task = asyncio.get_event_loop().create_task(self._connect(delay), name=f"console {self.uuid}")

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self.retrying = False

    async def _connect(self, delay: float) -> None:
        if delay:
            self.retrying = True
            await asyncio.sleep(delay)
        self.retrying = False
        self._set_status(ConsoleStatus(ConsoleState.CONNECTING, "looking up the guest's display"))
        try:
            endpoint = await self.connection.call(
                lambda conn: find_endpoint(conn, self.uuid, self.connection.uri, self.kinds))
        except NotRunning:
            self.session.close()
            self._set_status(ConsoleStatus(ConsoleState.NOT_RUNNING, "start the guest to see its screen"))
            return
        except VmguiError as err:
            self.session.close()
            self._set_status(ConsoleStatus(ConsoleState.DISCONNECTED, str(err)))
            return
        if self._closed:
            return
        self.session.open(endpoint)

    def _session_status(self, status: ConsoleStatus) -> None:
        if status.state is ConsoleState.CONNECTED:
            self._attempt = 0
        if (status.state is ConsoleState.DISCONNECTED and status != CLOSED and not status.permanent and not self._closed
                and self._guest_running() and self._attempt < len(self._retry_delays)):
            delay = self._retry_delays[self._attempt]
            self._attempt += 1
            self._set_status(ConsoleStatus(ConsoleState.DISCONNECTED,
                                           f"{status.message}; trying again in {delay:g} s"))
            self._start(delay)
            return
        if status == CLOSED and self.status.state is ConsoleState.NOT_RUNNING:
            return
        self._set_status(status)

    def _guests_changed(self, changes: GuestChanges) -> None:
        if self._closed:
            return
        if not self.connection.list_loaded and changes.removed and not changes.added:
            return  # the host connection dropped, not the guest: the display is QEMU's and may well go on
        touched = self.uuid in changes.removed or any(g.uuid == self.uuid for g in (*changes.added, *changes.updated))
        if not touched:
            return
        running = self._guest_running()
        if running and not self._was_running:
            self._attempt = 0
            self._start(0.3)  # QEMU's display server needs a moment after the guest starts
        elif not running and self._was_running:
            self._cancel()
            self.session.close()
            gone = self.uuid in changes.removed
            reason = "the guest no longer exists" if gone else "start the guest to see its screen"
            self._set_status(ConsoleStatus(ConsoleState.NOT_RUNNING, reason))
        self._was_running = running

    def _set_status(self, status: ConsoleStatus) -> None:
        if status != self.status:
            self.status = status
            self.status_changed.emit(status)
