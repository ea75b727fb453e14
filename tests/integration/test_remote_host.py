"""A remote host over qemu+ssh: its guests, a console whose display listens on the host's loopback, the portal."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from tests.helpers import run, wait_until
from tests.integration.conftest import PREFIX, TinyGuest, remove_pool_and_versions
from tests.integration.ssh_host import ssh_system_uri  # noqa: F401  (the fixture)
from tests.integration.test_console import differing_pixels, guest_screen, settle, uuid_of
from vmgui.console.any_session import AnySession
from vmgui.console.state import ConsoleState
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.pool_specs import PoolSpec, save_pool
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.settings import Settings
from vmgui.ui.vdi.portal import PortalWindow


@pytest.fixture
def remote(aloop: asyncio.AbstractEventLoop, ssh_system_uri: str) -> Iterator[Connection]:  # noqa: F811
    conn = Connection(ssh_system_uri, stats_interval=0)
    run(conn.connect(), timeout=60)
    wait_until(lambda: conn.list_loaded, timeout=30, what="the remote guest list")
    yield conn
    run(conn.close())


@pytest.mark.parametrize("protocol", ["vnc", "spice"])
def test_a_console_on_a_remote_host_comes_through_ssh(protocol: str, request: pytest.FixtureRequest,
                                                      remote: Connection, qtbot: QtBot, tmp_path: Path) -> None:
    guest: TinyGuest = request.getfixturevalue("running_guest" if protocol == "vnc" else "running_spice_guest")
    wait_until(lambda: any(g.name == guest.name for g in remote.guests.values()), what="the guest listed")
    window = ConsoleWindow()
    qtbot.addWidget(window)
    view = window.open_guest(remote, uuid_of(remote, guest.name))
    wait_until(lambda: view.session.frames > 0, timeout=60, what="the first frame through ssh")
    assert isinstance(view.session, AnySession)
    endpoint = view.session.endpoint
    assert endpoint is not None and endpoint.kind == "fd" and endpoint.tunnel[0] == "ssh"
    assert endpoint.protocol == protocol and "-W" in endpoint.tunnel  # to the display on the host's loopback
    settle(view)
    width, _height, rgb = guest_screen(guest.name, tmp_path)
    image = view.display.image()
    assert image is not None and differing_pixels(image.copy(), rgb, width) < 200
    window.close()
    assert view.session.status.state is ConsoleState.DISCONNECTED


def test_the_portal_on_a_remote_host_shows_my_desktop(ssh_system_uri: str, system_uri: str,  # noqa: F811
                                                       disk_guest: str, aloop: asyncio.AbstractEventLoop,
                                                       qtbot: QtBot, tmp_path: Path) -> None:
    raw = libvirt.open(system_uri)  # the admin's side, on the host itself
    pool = f"it-remote-{os.getpid()}"
    user = f"remote-user-{os.getpid()}"
    manager = ConnectionManager(stats_interval=0)
    try:
        golden.publish(raw, disk_guest, "remote")
        save_pool(raw, PoolSpec(pool, disk_guest, 2, f"{PREFIX}remote-{{n}}-{os.getpid()}"))
        mine, _other = pools.provision(raw, pool)
        desktops.assign(raw, mine.uuid, user)
        settings = Settings(QSettings(str(tmp_path / "vmgui.conf"), QSettings.Format.IniFormat))
        portal = PortalWindow(manager, user=user, settings=settings)
        qtbot.addWidget(portal)
        conn = manager.add(ssh_system_uri)
        run(conn.connect(), timeout=60)
        portal.show()
        wait_until(lambda: portal.grid.isVisible() and portal.grid.grid_model.rowCount() == 1, timeout=30,
                   what="my desktop on the remote host")
        model = portal.grid.grid_model
        assert str(model.data(model.index(0))).startswith(mine.name)
    finally:
        run(manager.close_all())
        remove_pool_and_versions(raw, pool, disk_guest)
        raw.close()
