"""The end-user portal (`vmgui --desktops`): my desktops as big tiles; one click starts one and opens it full screen."""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections import Counter

import libvirt
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vmgui.console.state import ConsoleState, ConsoleStatus
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.errors import VmguiError
from vmgui.core.guest import GuestInfo
from vmgui.core.lifecycle import Action
from vmgui.core.vdi import desktops, pools
from vmgui.ui.async_dialogs import confirm, dialog_result, show_error
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.guest_grid import GuestGrid
from vmgui.ui.settings import Settings
from vmgui.ui.tasks import TaskGroup
from vmgui.ui.thumbnails import Thumbnails

log = logging.getLogger(__name__)
TILE = QSize(320, 240)
KIOSK_EXIT_COMBO = "ctrl+alt+shift+q"


def local_user() -> str:
    """The local account's name: whom "my desktops" are for unless told otherwise."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class PortalWindow(QMainWindow):
    """The desktops assigned to `user` on every connected host, with Open, Restart and Reset to golden image.
    In kiosk mode it fills the screen, the consoles too, and only Ctrl+Alt+Shift+Q leaves."""

    def __init__(self, manager: ConnectionManager, *, user: str | None = None, kiosk: bool = False,
                 settings: Settings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("portal")
        self.manager = manager
        self.user = user if user is not None else local_user()
        self.kiosk = kiosk
        self.settings = settings
        self.tasks = TaskGroup()
        self.setWindowTitle(f"My desktops — {self.user}")
        self.thumbnails = Thumbnails(self.tasks, TILE, self)
        self.grid = GuestGrid(manager, self.thumbnails, include=self._is_mine, text=_tile_text, text_lines=2,
                              refresh_ms=5000)
        self.grid.setObjectName("my_desktops")
        self.grid.clicked.connect(lambda index: self._open_index(index))
        self.grid.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.grid.grid_model.modelReset.connect(self._contents_changed)
        self.grid.grid_model.dataChanged.connect(lambda *_: self._update_buttons())

        title = QLabel(f"<h2>My desktops</h2>Signed in as <b>{self.user or '?'}</b>. "
                       "Click a desktop to open it.")
        title.setObjectName("portal_title")
        self.status = QLabel()
        self.status.setObjectName("portal_status")
        self.status.setWordWrap(True)
        self.empty = QLabel()
        self.empty.setObjectName("portal_empty")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.claim_buttons = QHBoxLayout()
        buttons = QHBoxLayout()
        self.open_button = self._button("Open", "portal_open", self._open_selected,
                                        "Start the desktop if needed and show it full screen")
        self.restart_button = self._button("Restart…", "portal_restart", self._restart_selected,
                                           "Restart the desktop (or, when it no longer responds, turn it off and "
                                           "on again)")
        self.reset_button = self._button("Reset to Golden Image…", "portal_reset", self._reset_selected,
                                         "Throw away every change and start again from the desktop's image")
        for button in (self.open_button, self.restart_button, self.reset_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout()
        layout.addWidget(title)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.empty, 1)
        layout.addLayout(self.claim_buttons)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.resize(1100, 760)

        self.console_window = ConsoleWindow(None, settings=settings)
        self._refresh_timer = QTimer(self, singleShot=True, interval=100)  # a burst of changes is one refresh
        self._refresh_timer.timeout.connect(self._contents_changed)
        manager.connection_added.connect(self._watch)
        for conn in manager.connections:
            self._watch(conn)
        if kiosk:
            self.console_window.kiosk = True
            leave = QShortcut(QKeySequence("Ctrl+Alt+Shift+Q"), self)
            leave.activated.connect(self._leave_kiosk)
        self._contents_changed()

    def _watch(self, conn: Connection) -> None:
        conn.state_changed.connect(self._refresh_timer.start)
        conn.guests_changed.connect(lambda _changes: self._refresh_timer.start())
        self._refresh_timer.start()

    def _button(self, text: str, name: str, slot: object, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())  # type: ignore[operator]
        return button

    def _is_mine(self, guest: GuestInfo) -> bool:
        return guest.desktop is not None and bool(self.user) and guest.desktop.user == self.user

    def showEvent(self, event: object) -> None:
        super().showEvent(event)  # type: ignore[arg-type]
        if self.kiosk:
            self.showFullScreen()

    # ---- what is shown --------------------------------------------------------------------------

    def mine(self) -> list[tuple[Connection, GuestInfo]]:
        return [(c, g) for c in self.manager.connections for g in c.guests.values() if self._is_mine(g)]

    def _selected(self) -> tuple[Connection, GuestInfo] | None:
        chosen = self.grid.selected_guests()
        if len(chosen) == 1:
            return chosen[0]
        mine = self.mine()
        return mine[0] if len(mine) == 1 else None

    def _contents_changed(self) -> None:
        has = bool(self.mine())
        self.grid.setVisible(has)
        self.empty.setVisible(not has)
        if has:
            self.grid.grid_model.rebuild_if_stale()
        if not has:
            hosts = [c for c in self.manager.connections if c.is_connected]
            where = ", ".join(c.name for c in hosts) if hosts else "no host yet (connecting…)"
            self.empty.setText(f"No desktop is assigned to {self.user or 'you'} on {where}.")
        self._update_buttons()
        self._offer_free_desktops(has)

    def _update_buttons(self) -> None:
        one = self._selected()
        for button in (self.open_button, self.restart_button, self.reset_button):
            button.setEnabled(one is not None)
        self.restart_button.setEnabled(one is not None and one[1].state.is_active)

    def _offer_free_desktops(self, has_one: bool) -> None:
        """A button per pool with unassigned desktops, shown only while the user has none (the guest lists
        say which desktops are free: no call to the hosts)."""
        while self.claim_buttons.count():
            item = self.claim_buttons.takeAt(0)
            if item is not None and item.widget() is not None:
                item.widget().deleteLater()  # type: ignore[union-attr]
        if has_one or not self.user:
            return
        for conn in [c for c in self.manager.connections if c.is_connected]:
            free = Counter(g.desktop.pool for g in conn.guests.values() if g.desktop is not None and not g.desktop.user)
            for pool, count in sorted(free.items()):
                button = self._button(f"Get a desktop from {pool} ({count} free)", f"claim_{pool}",
                                      lambda c=conn, p=pool: self.tasks.spawn(self._claim(c, p)),
                                      f"Take a free desktop of the pool {pool} on {conn.name}; it stays yours")
                self.claim_buttons.addWidget(button)
        self.claim_buttons.addStretch(1)

    async def _claim(self, conn: Connection, pool: str) -> None:
        user = self.user
        try:
            desktop = await conn.call(lambda c: desktops.assign_next_free(c, pool, user))
        except (VmguiError, libvirt.libvirtError) as err:
            show_error(self, "Get a desktop", str(err))
            return
        self.status.setText(f"{desktop.name} is yours now.")
        try:  # keep the pool's number of pre-started free desktops for the next user
            await conn.call(lambda c: pools.prestart(c, pool))
        except (VmguiError, libvirt.libvirtError) as err:
            log.warning("could not pre-start desktops of %s: %s", pool, err)

    # ---- actions ------------------------------------------------------------------------------------

    def _open_index(self, index: object) -> None:
        item = self.grid.grid_model.guest_at(index)  # type: ignore[arg-type]
        if item is not None:
            self.tasks.spawn(self.open_desktop(item[0], item[1].uuid))

    def _open_selected(self) -> None:
        one = self._selected()
        if one is not None:
            self.tasks.spawn(self.open_desktop(one[0], one[1].uuid))

    async def open_desktop(self, conn: Connection, uuid: str) -> ConsoleView | None:
        """Start the desktop if it is not running (a "reset on shutdown" one fresh from its image), then
        show its console full screen."""
        name = conn.guests[uuid].name if uuid in conn.guests else uuid
        self.status.setText(f"Starting {name}…")
        try:
            await conn.call(lambda c: desktops.start(c, uuid))
        except (VmguiError, libvirt.libvirtError) as err:
            self.status.setText("")
            show_error(self, "Open desktop", str(err) if isinstance(err, VmguiError) else err.get_error_message())
            return None
        self.status.setText(f"Opening {name}…")
        await _until_listed(conn, uuid, active=True)
        known = self.console_window.find_guest(conn, uuid) is not None
        view = self.console_window.open_guest(conn, uuid)
        if not known:
            view.controller.status_changed.connect(lambda status: self._console_status(view, status))
            if self.kiosk:
                view.set_kiosk(KIOSK_EXIT_COMBO)
                view.display.exit_combo_pressed.connect(lambda: self.console_window.close_view(view))
        if not self.kiosk:
            view.set_fullscreen(True)
        self.status.setText("")
        return view

    def _console_status(self, view: ConsoleView, status: ConsoleStatus) -> None:
        """A desktop that shuts down hands the screen back to the portal."""
        if status.state is ConsoleState.NOT_RUNNING and view in self.console_window.views():
            self.console_window.close_view(view)
            self.raise_()
            self.activateWindow()

    def _restart_selected(self) -> None:
        one = self._selected()
        if one is not None:
            self.tasks.spawn(self._restart(*one))

    async def _restart(self, conn: Connection, guest: GuestInfo) -> None:
        await self.restart_desktop(conn, guest)

    async def restart_desktop(self, conn: Connection, guest: GuestInfo) -> str | None:
        """Ask how, then restart the desktop: as from inside it, or (when it no longer answers) by turning it
        off and on. What was done: "restart", "force" or None."""
        box = QMessageBox(QMessageBox.Icon.Question, "Restart", f"Restart {guest.name}?",
                          QMessageBox.StandardButton.Cancel, self)
        box.setObjectName("restart_question")
        box.setInformativeText("Restart asks the programs on it to close, as its own Restart does. If the "
                               "desktop no longer responds, Force Restart turns it off and on again: unsaved "
                               "work is lost.")
        gentle = box.addButton("Restart", QMessageBox.ButtonRole.AcceptRole)
        force = box.addButton("Force Restart", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(gentle)
        try:
            await dialog_result(box)
            clicked = box.clickedButton()
        finally:
            box.deleteLater()
        if clicked is gentle:
            try:
                await conn.perform(guest.uuid, Action.REBOOT)
            except VmguiError as err:
                show_error(self, "Restart", str(err))
                return None
            return "restart"
        if clicked is force:
            self.status.setText(f"Turning {guest.name} off and on…")
            try:
                await conn.call(lambda c: _force_restart(c, guest.uuid))
            except (VmguiError, libvirt.libvirtError) as err:
                self.status.setText("")
                show_error(self, "Force restart", str(err))
                return None
            self.status.setText(f"{guest.name} is starting again.")
            return "force"
        return None

    def _reset_selected(self) -> None:
        one = self._selected()
        if one is not None:
            self.tasks.spawn(self.reset_desktop(*one))

    async def reset_desktop(self, conn: Connection, guest: GuestInfo, *, ask: bool = True) -> bool:
        """Put the user's desktop back to its golden image (turned off first; started again if it ran)."""
        if ask and not await confirm(
                self, "Reset to golden image", f"Reset {guest.name} to its golden image?",
                "Everything changed on this desktop since it was made (files, settings, programs) is lost "
                "for good. Files kept on network shares are not touched.", "Reset"):
            return False
        was_running = guest.state.is_active
        view = self.console_window.find_guest(conn, guest.uuid)
        if view is not None:
            self.console_window.close_view(view)
        self.status.setText(f"Resetting {guest.name}…")
        try:
            await conn.call(lambda c: desktops.reset(c, guest.uuid, force_off=True))
        except (VmguiError, libvirt.libvirtError) as err:
            self.status.setText("")
            show_error(self, "Reset to golden image", str(err))
            return False
        self.status.setText(f"{guest.name} is as new.")
        if was_running:
            # A console opened while the list still showed it running would hear of the stop late, as a
            # shut-down desktop, and hand the screen back.
            await _until_listed(conn, guest.uuid, active=False)
            await self.open_desktop(conn, guest.uuid)
        return True

    # ---- kiosk ----------------------------------------------------------------------------------

    def _leave_kiosk(self) -> None:
        self.kiosk = False
        self.console_window.kiosk = False
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.kiosk:
            event.ignore()
            return
        self.tasks.cancel_all()
        self.console_window.kiosk = False
        self.console_window.close()
        super().closeEvent(event)


def _tile_text(guest: GuestInfo) -> str:
    pool = f" · {guest.desktop.pool}" if guest.desktop is not None else ""
    return f"{guest.title or guest.name}\n{guest.state_text}{pool}"


def _force_restart(conn: libvirt.virConnect, uuid: str) -> None:
    dom = conn.lookupByUUIDString(uuid)
    if dom.isActive():
        dom.destroy()
    desktops.start(conn, uuid)  # a desktop of a "reset on shutdown" pool comes back fresh, as after any stop


async def _until_listed(conn: Connection, uuid: str, *, active: bool, timeout: float = 10.0) -> None:
    """Until the guest list shows the guest running (or not): it hears of a change by an event, in a
    few milliseconds; a guest it no longer lists counts as not running."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        guest = conn.guests.get(uuid)
        if (guest is not None and guest.state.is_active) == active:
            return
        await asyncio.sleep(0.05)
