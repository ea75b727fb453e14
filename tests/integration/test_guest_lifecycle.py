"""A tiny guest on real libvirtd + QEMU, seen through vmgui: define, start, outside changes, stats, off."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from tests.guest.build_tiny_guest import TinyGuestFiles
from tests.helpers import run, wait_until
from tests.integration.conftest import ROOT, TinyGuest, make_guest, unavailable, virsh
from vmgui.core.connection import Connection, ConnectionState
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.domstate import GuestState
from vmgui.core.lifecycle import Action
from vmgui.ui.guest_model import Column
from vmgui.ui.main_window import MainWindow
from vmgui.ui.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def window(system_uri: str, qtbot: QtBot, tmp_path: Path) -> Iterator[MainWindow]:
    manager = ConnectionManager(stats_interval=1.0)
    win = MainWindow(manager, Settings(QSettings(str(tmp_path / "s.conf"), QSettings.Format.IniFormat)))
    qtbot.addWidget(win)
    run(manager.add(system_uri).connect(), timeout=60)
    win.show()
    yield win
    run(manager.close_all())


def row_state(win: MainWindow, name: str) -> str | None:
    parent = win.model.index(0, 0)
    for r in range(win.model.rowCount(parent)):
        if win.model.index(r, Column.NAME, parent).data() == name:
            return str(win.model.index(r, Column.STATE, parent).data())
    return None


def guest_by_name(conn: Connection, name: str) -> str | None:
    return next((g.uuid for g in conn.guests.values() if g.name == name), None)


def test_tiny_guest_lifecycle_through_events(window: MainWindow, tiny_files: TinyGuestFiles) -> None:
    conn = window.manager.connections[0]
    assert conn.state is ConnectionState.CONNECTED and conn.list_loaded
    guest = make_guest(tiny_files, "lifecycle")

    virsh("define", str(guest.xml_path))  # outside the app, as an admin at a shell would
    wait_until(lambda: row_state(window, guest.name) is not None, timeout=10, what="defined guest listed")
    assert row_state(window, guest.name) == "Shut off"
    uuid = guest_by_name(conn, guest.name)
    assert uuid is not None

    run(conn.perform(uuid, Action.START), timeout=120)
    wait_until(lambda: (row_state(window, guest.name) or "").startswith("Running"), timeout=30, what="running")
    boot = guest.wait_for_serial("VMGUI-TINY-GUEST READY")
    print(f"\ntiny guest reached its init {boot:.1f} s after start returned")

    # A change made outside the app reaches the list by event, well within a second.
    for command, expected in (("suspend", "Paused"), ("resume", "Running")):
        virsh(command, guest.name)

        def shown(e: str = expected) -> bool:
            return (row_state(window, guest.name) or "").startswith(e)

        latency = wait_until(shown, timeout=5, what=f"virsh {command} seen")
        print(f"virsh {command} -> list shows {expected} after {latency * 1000:.0f} ms")
        assert latency < 1.0

    # Stats: one getAllDomainStats per tick gives CPU and memory for the running guest.
    wait_until(lambda: uuid in conn.stats and len(conn.stats[uuid].cpu) >= 2, timeout=15, what="two stats ticks")
    rates = conn.stats[uuid].rates
    assert rates.cpu_percent is not None and 0.0 <= rates.cpu_percent <= 100.0
    memory_total_kib = conn.stats[uuid].last.memory_total_kib
    assert memory_total_kib and memory_total_kib > 0
    parent = window.model.index(0, 0)
    row = next(r for r in range(window.model.rowCount(parent))
               if window.model.index(r, 0, parent).data() == guest.name)
    assert window.model.index(row, Column.CPU, parent).data().endswith("%")

    run(conn.perform(uuid, Action.FORCE_OFF), timeout=60)
    wait_until(lambda: (row_state(window, guest.name) or "").startswith("Shut off"), timeout=15, what="off")
    assert row_state(window, guest.name) == "Shut off (forced off)"

    virsh("undefine", guest.name)
    wait_until(lambda: row_state(window, guest.name) is None, timeout=10, what="undefined guest gone")
    assert guest_by_name(conn, guest.name) is None


def test_daemon_restart_reconnects(window: MainWindow, running_guest: TinyGuest) -> None:
    if os.geteuid() != 0:
        unavailable("restarting libvirtd needs root")
    conn = window.manager.connections[0]
    wait_until(lambda: guest_by_name(conn, running_guest.name) is not None, what="shared guest listed")
    before = sorted(g.name for g in conn.guests.values())

    subprocess.run(["pkill", "-x", "libvirtd"], check=True)
    took = wait_until(lambda: conn.state is ConnectionState.DISCONNECTED, timeout=30, what="disconnect seen")
    print(f"\nlibvirtd stopped: connection shows '{conn.status_text}' after {took:.2f} s")
    assert conn.error and row_state(window, running_guest.name) is None
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-x", "libvirtd"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "libvirtd did not exit"
        time.sleep(0.1)

    subprocess.run([str(ROOT / "scripts" / "ensure-libvirtd.sh")], check=True, timeout=120)
    took = wait_until(lambda: conn.state is ConnectionState.CONNECTED and conn.list_loaded,
                      timeout=60, what="reconnected")
    print(f"libvirtd back: reconnected and listed after {took:.2f} s")
    assert sorted(g.name for g in conn.guests.values()) == before
    uuid = guest_by_name(conn, running_guest.name)
    assert uuid is not None and conn.guests[uuid].state is GuestState.RUNNING
    assert (row_state(window, running_guest.name) or "").startswith("Running")
