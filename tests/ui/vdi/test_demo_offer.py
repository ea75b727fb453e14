"""The demo banner on test-driver hosts: offered on a host with no guests, builds with progress, cancel, remove."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox
from pytestqt.qtbot import QtBot

from tests.helpers import run, start_imports, wait_until
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.errors import VmguiError
from vmgui.core.vdi import desktops
from vmgui.core.vdi.demo import DemoCancelled, DemoResult
from vmgui.core.vdi.demo_names import DemoNames
from vmgui.core.vdi.marks import DesktopMark
from vmgui.ui.main_window import MainWindow
from vmgui.ui.settings import Settings
from vmgui.ui.tasks import TaskGroup
from vmgui.ui.vdi.demo_offer import Build, DemoOffer, Progress, Remove

EMPTY_HOST = """<node>
  <cpu><mhz>3000</mhz><model>i686</model><active>2</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores>
  <threads>1</threads></cpu>
  <memory>16777216</memory>
</node>
"""
GUEST = """<domain type='test'><name>{name}</name><memory unit='MiB'>64</memory>
<os><type arch='x86_64'>hvm</type></os></domain>"""


@pytest.fixture
def empty_uri(tmp_path: Path) -> str:
    """A test-driver host with no guests (fresh per connection: the test driver keeps it in memory)."""
    path = tmp_path / "empty-host.xml"
    path.write_text(EMPTY_HOST)
    return f"test://{path}"


@pytest.fixture
def manager(aloop: asyncio.AbstractEventLoop, empty_uri: str) -> Iterator[ConnectionManager]:
    manager = ConnectionManager(stats_interval=0)
    conn = manager.add(empty_uri)
    run(conn.connect())
    wait_until(lambda: conn.list_loaded, what="the (empty) guest list")
    yield manager
    run(manager.close_all())


def host(manager: ConnectionManager) -> Connection:
    return manager.connections[0]


def define(conn: Connection, name: str) -> None:
    run(conn.call(lambda c: c.defineXML(GUEST.format(name=name))))


def fake_demo(c: libvirt.virConnect, user: str = "me") -> DemoResult:
    """What build_demo leaves, on the test driver: the golden guest and 3 desktops, the first one the user's."""
    golden = c.defineXML(GUEST.format(name="vmgui-demo"))
    for n in (1, 2, 3):
        dom = c.defineXML(GUEST.format(name=f"demo-{n}"))
        desktops.write_mark(dom, DesktopMark("demo", 1, user if n == 1 else None, f"/pool/demo-{n}-vda.qcow2"))
    return DemoResult(golden.UUIDString(), "vmgui-demo", 1, tuple(desktops.desktops(c, "demo")), user,
                      ("defined vmgui-demo",))


def message_box(name: str) -> QMessageBox | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.isVisible() and w.objectName() == name:
            return w
    return None


def test_the_main_window_offers_the_demo_on_an_empty_host_and_stops_once_it_has_guests(
        manager: ConnectionManager, settings: Settings, qtbot: QtBot) -> None:
    window = MainWindow(manager, settings)
    qtbot.addWidget(window)
    window.show()
    offer = window.demo_offer
    wait_until(offer.isVisible, what="the demo banner")
    assert offer.label.text().startswith("<b>This host has no guests yet.</b> Try a demo desktop pool: 3 small")
    assert offer.try_button.isVisible() and not offer.progress.isVisible()
    assert offer.geometry().bottom() < window.tree.mapTo(window, window.tree.rect().topLeft()).y()  # above the list
    desktops_menu = next(m for m in window.menuBar().findChildren(QMenu) if m.title() == "&Desktops")
    assert desktops_menu.actions()[-2:] == [offer.try_action, offer.remove_action]
    assert offer.try_action.isEnabled()
    assert not offer.remove_action.isEnabled()  # no demo on the host

    define(host(manager), "web")
    wait_until(lambda: not offer.isVisible(), what="the banner to go once the host has a guest")
    define(host(manager), "vmgui-demo")
    wait_until(offer.remove_action.isEnabled, what="Remove the Demo Pool enabled")
    window.close()


def offer_with(manager: ConnectionManager, qtbot: QtBot, *, build: Build | None = None,
               remove: Remove | None = None, portal_opened: list[bool] | None = None) -> DemoOffer:
    """The banner alone, with the blocking jobs given (the real ones are never run here)."""
    opened = portal_opened if portal_opened is not None else []
    offer = DemoOffer(manager, TaskGroup(), show_portal=lambda: opened.append(True), build=build, remove=remove)
    qtbot.addWidget(offer)
    offer.show()
    wait_until(offer.try_button.isVisible, what="the offer")
    return offer


def test_trying_it_runs_the_build_with_progress_then_says_what_was_made(manager: ConnectionManager,
                                                                         qtbot: QtBot) -> None:
    go_on = threading.Event()
    calls: list[str] = []

    def build(c: libvirt.virConnect, progress: Progress, cancel: threading.Event) -> DemoResult:
        calls.append(c.getURI())
        progress("Building the tiny Linux guest from Debian packages…")
        go_on.wait(10)
        return fake_demo(c)

    portal_opened: list[bool] = []
    offer = offer_with(manager, qtbot, build=build, portal_opened=portal_opened)
    offer.try_button.click()
    wait_until(lambda: "Building the tiny Linux guest" in offer.label.text(), what="the build's progress")
    assert offer.progress.isVisible() and offer.cancel_button.isVisible() and not offer.try_button.isVisible()
    assert not offer.try_action.isEnabled()  # one demo job at a time
    go_on.set()
    wait_until(lambda: "is ready" in offer.label.text(), what="the result")
    assert calls == [host(manager).uri]
    text = offer.label.text()
    assert "demo-1, demo-2, demo-3" in text and "vmgui-demo v1" in text and "<b>demo-1</b> is yours" in text
    assert not offer.progress.isVisible() and offer.portal_button.isVisible()
    offer.portal_button.click()
    assert portal_opened == [True]
    wait_until(offer.remove_action.isEnabled, what="Remove enabled now that the host has the demo")
    offer.close_button.click()
    assert not offer.isVisible()  # the host has guests now: no offer


def test_cancel_stops_the_build_and_the_offer_comes_back(manager: ConnectionManager, qtbot: QtBot) -> None:
    def build(c: libvirt.virConnect, progress: Progress, cancel: threading.Event) -> DemoResult:
        if not cancel.wait(10):
            raise AssertionError("never cancelled")
        raise DemoCancelled("Cancelled: nothing of this run was left behind.")

    offer = offer_with(manager, qtbot, build=build)
    offer.try_action.trigger()
    wait_until(offer.cancel_button.isVisible, what="Cancel")
    offer.cancel_button.click()
    wait_until(offer.try_button.isVisible, what="the offer again")
    assert "no guests yet" in offer.label.text() and message_box("error") is None


def test_a_failed_build_is_reported_and_offered_again(manager: ConnectionManager, qtbot: QtBot) -> None:
    def build(c: libvirt.virConnect, progress: Progress, cancel: threading.Event) -> DemoResult:
        raise VmguiError("The tiny Linux guest could not be built: apt-get download failed")

    offer = offer_with(manager, qtbot, build=build)
    offer.start_build()
    wait_until(lambda: message_box("error") is not None, what="the error")
    box = message_box("error")
    assert box is not None and "apt-get download failed" in box.text()
    box.close()
    wait_until(offer.try_button.isVisible, what="the offer again")


def test_remove_asks_first_then_removes_from_the_host_that_has_it(manager: ConnectionManager, qtbot: QtBot) -> None:
    removed: list[str] = []

    def remove(c: libvirt.virConnect, progress: Progress) -> list[str]:
        removed.append(c.getURI())
        for dom in c.listAllDomains(0):
            if DemoNames().owns(dom.name()):
                dom.undefine()
        return ["vmgui-demo"]

    offer = offer_with(manager, qtbot, remove=remove)
    run(host(manager).call(fake_demo))
    wait_until(offer.remove_action.isEnabled, what="Remove enabled")
    offer.remove_action.trigger()
    wait_until(lambda: message_box("confirm") is not None, what="the confirmation")
    box = message_box("confirm")
    assert box is not None and box.text().startswith("Remove the demo desktop pool from")
    box.button(QMessageBox.StandardButton.Cancel).click()
    wait_until(lambda: message_box("confirm") is None, what="the box closed")
    assert removed == []

    offer.remove_action.trigger()
    wait_until(lambda: message_box("confirm") is not None, what="the confirmation")
    box = message_box("confirm")
    assert box is not None
    next(b for b in box.buttons() if b.text() == "Remove").click()
    wait_until(lambda: bool(removed), what="the removal")
    assert removed == [host(manager).uri]
    wait_until(offer.try_button.isVisible, what="the offer again on the emptied host")
    assert not offer.remove_action.isEnabled()


def test_the_banner_never_loads_the_demo_builder_while_hosts_load(tmp_path: Path) -> None:
    """Importing the builder (tiny guest, storage, pools: 150 ms) on the GUI thread stalled the first load."""
    imported = start_imports(tmp_path)
    assert "vmgui.ui.vdi.demo_offer" in imported and "vmgui.core.vdi.demo_names" in imported
    assert "vmgui.core.vdi.demo" not in imported and "vmgui.core.tiny_guest" not in imported


def test_the_banner_never_opens_as_a_window_of_its_own(aloop: asyncio.AbstractEventLoop, qtbot: QtBot) -> None:
    # Made before the main window's layout takes it, the banner must stay hidden: shown without a parent
    # it would open (and on a desktop flash) as a top-level window, and cost a window and a paint at start.
    offer = DemoOffer(ConnectionManager(stats_interval=0), TaskGroup())
    qtbot.addWidget(offer)
    assert offer.windowHandle() is None and not offer.isVisible()
