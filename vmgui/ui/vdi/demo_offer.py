"""The main window's demo banner: on a host with no guests, offers a demo desktop pool and builds it with progress.

The banner shows while a connected host has no guests (until dismissed), and while the demo is being made or
removed. Making it runs vmgui.core.vdi.demo.build_demo in a worker (Cancel removes what was made); the same
object owns the Desktops menu's "Try a Demo Desktop Pool" and "Remove the Demo Pool…" actions. The demo's
core is imported when first needed (after the window is painted), not on the start path.
"""

from __future__ import annotations

import asyncio
import html
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import libvirt
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton, QToolButton, QWidget

from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.errors import VmguiError
from vmgui.core.vdi.demo_names import SIZE, DemoNames
from vmgui.ui.async_dialogs import confirm, show_error
from vmgui.ui.tasks import TaskGroup

if TYPE_CHECKING:
    from vmgui.core.vdi.demo import DemoResult

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
Build = Callable[[libvirt.virConnect, Progress, threading.Event], "DemoResult"]
Remove = Callable[[libvirt.virConnect, Progress], object]

OFFER = "Try a demo desktop pool: {size} small Linux desktops built from Debian packages."


class _Watch:
    """The connections' callbacks that reach the banner, dropped when it is deleted."""

    def __init__(self, manager: ConnectionManager, changed: Callable[..., None]) -> None:
        self.manager = manager
        self.changed = changed
        self.watched: list[Connection] = []
        manager.connection_added.connect(self.add)
        manager.connection_removed.connect(self.remove)
        for conn in manager.connections:
            self.add(conn)

    def add(self, conn: Connection) -> None:
        self.watched.append(conn)
        conn.state_changed.connect(self.changed)
        conn.guests_changed.connect(self.changed)
        conn.host_changed.connect(self.changed)
        self.changed()

    def remove(self, conn: Connection) -> None:
        if conn in self.watched:
            self.watched.remove(conn)
            conn.state_changed.disconnect(self.changed)
            conn.guests_changed.disconnect(self.changed)
            conn.host_changed.disconnect(self.changed)
        self.changed()

    def close(self) -> None:
        for conn in list(self.watched):
            self.remove(conn)
        self.manager.connection_added.disconnect(self.add)
        self.manager.connection_removed.disconnect(self.remove)
        self.changed = lambda *_args: None


class DemoOffer(QFrame):
    """The banner above the guest views. `build` and `remove` are the blocking jobs (the real ones by default);
    `show_portal` opens My Desktops."""

    def __init__(self, manager: ConnectionManager, tasks: TaskGroup, *, show_portal: Callable[[], object] | None = None,
                 build: Build | None = None, remove: Remove | None = None, names: DemoNames | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("demo_offer")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#demo_offer { background: palette(alternate-base); border: none;"
                           " border-bottom: 1px solid palette(mid); }")
        self.manager = manager
        self.tasks = tasks
        self._names = names
        self._show_portal = show_portal
        self._build = build
        self._remove = remove
        self._busy = False
        self._cancel: threading.Event | None = None
        self._result: str | None = None   # what the last build made, shown until dismissed
        self._dismissed = False

        self.label = QLabel()
        self.label.setObjectName("demo_text")
        self.label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setObjectName("demo_progress")
        self.progress.setRange(0, 0)  # busy: the steps take very different times
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(140)
        self.try_button = QPushButton("Try the Demo Pool")
        self.try_button.setObjectName("demo_try")
        self.try_button.setDefault(True)
        self.try_button.clicked.connect(lambda _checked=False: self.start_build())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("demo_cancel")
        self.cancel_button.clicked.connect(lambda _checked=False: self.cancel())
        self.portal_button = QPushButton("Open My Desktops")
        self.portal_button.setObjectName("demo_portal")
        self.portal_button.clicked.connect(lambda _checked=False: self._open_portal())
        self.close_button = QToolButton()
        self.close_button.setObjectName("demo_close")
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide this (the Desktops menu still has the demo pool)")
        self.close_button.clicked.connect(lambda _checked=False: self.dismiss())
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        for widget in (self.progress, self.try_button, self.cancel_button, self.portal_button, self.close_button):
            layout.addWidget(widget)

        self.try_action = QAction("Try a Demo Desktop Pool", self)
        self.try_action.setObjectName("action_try_demo")
        self.try_action.setToolTip("Make a pool of small Linux desktops on a golden image, built from Debian "
                                   "packages, with one assigned to you")
        self.try_action.triggered.connect(lambda _checked=False: self.start_build())
        self.remove_action = QAction("Remove the Demo Pool…", self)
        self.remove_action.setObjectName("action_remove_demo")
        self.remove_action.setToolTip("Delete the demo's desktops, its golden image and its kernel and disk images")
        self.remove_action.triggered.connect(lambda _checked=False: self.start_remove())

        self._show_parts()  # nothing until the first refresh says what
        self.setVisible(False)
        self.try_action.setEnabled(False)
        self.remove_action.setEnabled(False)
        self._timer = QTimer(self, singleShot=True, interval=100)  # coalesce bursts of guest changes
        self._timer.timeout.connect(self._refresh)
        self._watch = _Watch(manager, lambda *_args: self._timer.start())  # also refreshes soon after start
        self.destroyed.connect(self._watch.close)

    @property
    def names(self) -> DemoNames:
        """What the demo's guests are called (the product's names unless others were given)."""
        if self._names is None:
            self._names = DemoNames()
        return self._names

    # ---- what to show ---------------------------------------------------------------------------

    def offer_host(self) -> Connection | None:
        """The first connected host whose (loaded) guest list is empty."""
        return next((c for c in self.manager.connections if c.is_connected and c.list_loaded and not c.guests), None)

    def demo_hosts(self) -> list[Connection]:
        """The connected hosts that have demo guests (by name)."""
        return [c for c in self.manager.connections
                if c.is_connected and any(self.names.owns(g.name) for g in c.guests.values())]

    def _refresh(self) -> None:
        offer = self.offer_host()
        self.try_action.setEnabled(not self._busy and any(c.is_connected for c in self.manager.connections))
        self.remove_action.setEnabled(not self._busy and bool(self.demo_hosts()))
        if self._busy:
            self._show(progress=True, cancel=self._cancel is not None)
        elif self._result is not None:
            self.label.setText(self._result)
            self._show(portal=self._show_portal is not None, close=True)
        elif offer is not None and not self._dismissed:
            many = len(self.manager.connections) > 1
            host = f"{html.escape(offer.name)} has" if many else "This host has"
            self.label.setText(f"<b>{host} no guests yet.</b> {OFFER.format(size=SIZE)}")
            self._show(try_=True, close=True)
        else:
            self.setVisible(False)

    def _show(self, *, progress: bool = False, cancel: bool = False, try_: bool = False, portal: bool = False,
              close: bool = False) -> None:
        self._show_parts(progress=progress, cancel=cancel, try_=try_, portal=portal, close=close)
        self.setVisible(True)

    def _show_parts(self, *, progress: bool = False, cancel: bool = False, try_: bool = False, portal: bool = False,
                    close: bool = False) -> None:
        """Which of the banner's parts show (the banner itself stays as it is: shown while it has no parent,
        it would open as a window of its own)."""
        self.progress.setVisible(progress)
        self.cancel_button.setVisible(cancel)
        self.try_button.setVisible(try_)
        self.portal_button.setVisible(portal)
        self.close_button.setVisible(close)

    def dismiss(self) -> None:
        """Hide the banner (the offer stays away until the next start; the menu actions remain)."""
        self._dismissed = True
        self._result = None
        self._refresh()

    def _open_portal(self) -> None:
        if self._show_portal is not None:
            self._show_portal()

    def _progress_text(self, text: str) -> None:
        if self._busy:
            self.label.setText(html.escape(text))

    # ---- making and removing ----------------------------------------------------------------------

    def start_build(self) -> asyncio.Task[None] | None:
        """Make the demo pool on the host the banner offers (else on one that has it, else the first connected)."""
        if self._busy:
            return None
        connected = [c for c in self.manager.connections if c.is_connected]
        conn = self.offer_host() or next(iter(self.demo_hosts()), None) or next(iter(connected), None)
        if conn is None:
            show_error(self.window(), "Demo desktop pool", "Connect to a host first: the demo pool is made on it.")
            return None
        return self.tasks.spawn(self._build_on(conn))

    def cancel(self) -> None:
        if self._cancel is not None and not self._cancel.is_set():
            self._cancel.set()
            self.cancel_button.setEnabled(False)
            self.label.setText("Cancelling: removing what was made…")

    def start_remove(self) -> asyncio.Task[None] | None:
        """Ask, then remove the demo pool from every connected host that has it."""
        if self._busy:
            return None
        return self.tasks.spawn(self._remove_from(self.demo_hosts()))

    async def _build_on(self, conn: Connection) -> None:
        cancel = threading.Event()
        self._begin(f"Making the demo desktop pool on {conn.name}…", cancel)
        loop = asyncio.get_running_loop()

        def progress(step: str) -> None:  # called in the worker thread
            loop.call_soon_threadsafe(self._progress_text, step)

        from vmgui.core.vdi.demo import DemoCancelled, build_demo

        build = self._build or build_demo
        try:
            result = await conn.call(lambda c: build(c, progress, cancel))
        except asyncio.CancelledError:
            cancel.set()  # the window closed: the worker removes what it made
            raise
        except DemoCancelled:
            self._result = None
        except VmguiError as err:
            show_error(self.window(), "Demo desktop pool", str(err))
        except Exception as err:
            log.exception("making the demo pool failed")
            show_error(self.window(), "Demo desktop pool", f"The demo desktop pool could not be made: {err}")
        else:
            self._result = self._result_text(conn, result)
        self._end()

    def _result_text(self, conn: Connection, result: DemoResult) -> str:
        names = ", ".join(html.escape(d.name) for d in result.desktops)
        mine = result.mine
        yours = (f" <b>{html.escape(mine.name)}</b> is yours: start it from My Desktops, or double-click it in the "
                 "list to see its screen." if mine else "")
        what = "is ready" if result.made else "was already there"
        return (f"<b>The demo desktop pool {what} on {html.escape(conn.name)}:</b> {names}, on the golden image "
                f"{html.escape(result.golden_name)} v{result.version}.{yours}")

    async def _remove_from(self, hosts: list[Connection]) -> None:
        if not hosts:
            show_error(self.window(), "Remove the demo pool", "No connected host has the demo desktop pool.")
            return
        where = ", ".join(c.name for c in hosts)
        if not await confirm(self.window(), "Remove the demo pool", f"Remove the demo desktop pool from {where}?",
                             f"Its desktops (also any assigned to someone), the golden image {self.names.golden} "
                             "with its versions, and the demo's kernel and disk images are deleted. Nothing else "
                             "is touched.", "Remove"):
            return
        if self._busy:
            return
        self._begin("Removing the demo desktop pool…", None)
        loop = asyncio.get_running_loop()

        def progress(step: str) -> None:  # called in the worker thread
            loop.call_soon_threadsafe(self._progress_text, step)

        from vmgui.core.vdi.demo import remove_demo

        remove = self._remove or remove_demo
        try:
            for conn in hosts:
                await conn.call(lambda c: remove(c, progress))
        except VmguiError as err:
            show_error(self.window(), "Remove the demo pool", str(err))
        except Exception as err:
            log.exception("removing the demo pool failed")
            show_error(self.window(), "Remove the demo pool", f"The demo desktop pool could not be removed: {err}")
        self._end()

    def _begin(self, text: str, cancel: threading.Event | None) -> None:
        self._busy = True
        self._cancel = cancel
        self._result = None
        self.cancel_button.setEnabled(True)
        self.label.setText(html.escape(text))
        self._refresh()

    def _end(self) -> None:
        self._busy = False
        self._cancel = None
        self._refresh()
