"""The Desktop Pools window (admins, helpdesk): pools, their desktops with users, states and screens, and actions."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import libvirt
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from vmgui.console.graphics import graphics_of
from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.errors import VmguiError
from vmgui.core.guest import GuestInfo
from vmgui.core.lifecycle import Action
from vmgui.core.vdi import desktops, pools, replicas
from vmgui.core.vdi.pool_specs import PoolSpec, read_pools
from vmgui.ui.async_dialogs import confirm, show_error
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.guest_grid import GuestGrid
from vmgui.ui.tasks import TaskGroup
from vmgui.ui.thumbnails import Thumbnails
from vmgui.ui.vdi.desktop_table import DesktopTableModel, user_matches
from vmgui.ui.vdi.pool_questions import ask_copy, ask_host, ask_user

OpenConsole = Callable[..., ConsoleView]
Selected = tuple[Connection, GuestInfo]


class PoolsWindow(QMainWindow):
    """Pools on every connected host; the chosen pool's (or every pool's) desktops as a table and as live
    screens; find a user's desktop; reset, reassign, copy, start, shut down, open or watch a desktop."""

    def __init__(self, manager: ConnectionManager, open_console: OpenConsole, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("pools_window")
        self.setWindowTitle("Desktop Pools — vmgui")
        self.manager = manager
        self._open_console = open_console
        self.tasks = TaskGroup()
        self.specs: list[tuple[Connection, PoolSpec]] = []

        self.pool_box = QComboBox()
        self.pool_box.setObjectName("pool_choice")
        self.pool_box.currentIndexChanged.connect(lambda _i: self._pool_changed())
        self.search = QLineEdit()
        self.search.setObjectName("user_search")
        self.search.setPlaceholderText("Find a user's desktop (a name, or 'free')")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._search_changed)
        top = QHBoxLayout()
        top.addWidget(QLabel("Pool:"))
        top.addWidget(self.pool_box, 1)
        self.new_button = self._button("New Pool…", "new_pool", self.new_pool, top)
        self.edit_button = self._button("Edit Pool…", "edit_pool", self.edit_pool, top)
        self.extend_button = self._button("Add a Host…", "extend_pool", self._extend_pool, top)
        self.extend_button.setToolTip("Let the pool have desktops on another connected host too: its golden "
                                      "version is copied there")
        self.remove_button = self._button("Remove Pool…", "remove_pool", self._remove_pool, top)
        top.addWidget(self.search, 1)

        self.table_model = DesktopTableModel(manager, self)
        self.table = QTableView()
        self.table.setObjectName("desktop_table")
        self.table.setModel(self.table_model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.doubleClicked.connect(lambda _i: self._act(self._open))
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.table_model.modelReset.connect(self._update_buttons)
        self.thumbnails = Thumbnails(self.tasks, parent=self)
        self.screens = GuestGrid(manager, self.thumbnails, include=self._shown, text=_screen_text, text_lines=2,
                                 refresh_ms=5000)
        self.screens.setObjectName("desktop_screens")
        self.screens.guest_activated.connect(lambda c, uuid: self._watch_uuid(c, uuid))
        self.tabs = QTabWidget()
        self.tabs.addTab(self.table, "Desktops")
        self.tabs.addTab(self.screens, "Screens")

        actions = QHBoxLayout()
        self.desktop_buttons = [
            self._button("Open Console", "desktop_open", lambda: self._act(self._open), actions),
            self._button("Watch (View Only)", "desktop_watch", lambda: self._act(self._watch), actions),
            self._button("Start", "desktop_start", lambda: self._act(self._start), actions),
            self._button("Shut Down", "desktop_shutdown", lambda: self._act(self._shutdown), actions),
            self._button("Reset…", "desktop_reset", lambda: self._act(self.reset_desktop), actions),
            self._button("Assign…", "desktop_assign", lambda: self._act(self.assign_desktop), actions),
            self._button("Copy…", "desktop_copy", lambda: self._act(self.copy_desktop), actions),
        ]
        actions.addStretch(1)
        self.status = QLabel()
        self.status.setObjectName("pools_status")
        self.status.setWordWrap(True)
        layout = QVBoxLayout()
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        central = QWidget()
        central.setLayout(layout)
        self.setCentralWidget(central)
        self.resize(1100, 700)

        self._reload_timer = QTimer(self, singleShot=True, interval=300)
        self._reload_timer.timeout.connect(lambda: self.tasks.spawn(self.reload_pools()))
        manager.connection_added.connect(self._watch_connection)
        for conn in manager.connections:
            self._watch_connection(conn)
        self._update_buttons()

    def _button(self, text: str, name: str, slot: Callable[[], object], row: QHBoxLayout) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(lambda _checked=False: slot())
        row.addWidget(button)
        return button

    def _watch_connection(self, conn: Connection) -> None:
        conn.state_changed.connect(self._reload_timer.start)
        # a pool's definition lives in its golden image's metadata: a change there shows as that guest's change
        conn.guests_changed.connect(lambda ch: self._reload_timer.start()
                                    if any(g.golden for g in (*ch.added, *ch.updated)) or ch.removed else None)
        self._reload_timer.start()

    # ---- pools --------------------------------------------------------------------------------------

    async def reload_pools(self) -> None:
        found: list[tuple[Connection, PoolSpec]] = []
        for conn in [c for c in self.manager.connections if c.is_connected]:
            try:
                found += [(conn, spec) for spec in await conn.call(read_pools)]
            except (VmguiError, libvirt.libvirtError) as err:
                self.status.setText(f"{conn.name}: the pools could not be read: {err}")
        current = self.current_pool()
        key = (current[0], current[1].name) if current else None
        self.specs = found
        self.pool_box.blockSignals(True)
        self.pool_box.clear()
        self.pool_box.addItem(f"Every pool ({len(found)})")
        several_hosts = len({id(c) for c, _s in found}) > 1
        for conn, spec in found:
            mode = "reset on shutdown" if spec.mode == "reset" else "persistent"
            where = f" on {conn.name}" if several_hosts else ""
            self.pool_box.addItem(f"{spec.name}{where}: {spec.size} desktops, v{spec.version}, {mode}")
        index = next((i + 1 for i, (c, s) in enumerate(found) if key == (c, s.name)), 0)
        self.pool_box.setCurrentIndex(index)
        self.pool_box.blockSignals(False)
        self.table_model.set_pool_versions({(id(c), s.name): s.version for c, s in found if s.version is not None})
        self._pool_changed()

    def current_pool(self) -> tuple[Connection, PoolSpec] | None:
        index = self.pool_box.currentIndex()
        return self.specs[index - 1] if 0 < index <= len(self.specs) else None

    def choose_pool(self, name: str) -> None:
        index = next((i + 1 for i, (_c, s) in enumerate(self.specs) if s.name == name), 0)
        self.pool_box.setCurrentIndex(index)

    def _pool_changed(self) -> None:
        current = self.current_pool()
        self.table_model.show_pool(current[0] if current else None, current[1].name if current else None)
        self.screens.grid_model.mark_stale()
        self.edit_button.setEnabled(current is not None)
        self.remove_button.setEnabled(current is not None)
        self.extend_button.setEnabled(current is not None and len(self._other_hosts(current[0])) > 0)
        self.new_button.setEnabled(any(c.is_connected for c in self.manager.connections))

    def _shown(self, guest: GuestInfo) -> bool:
        current = self.current_pool()
        mark = guest.desktop
        return (mark is not None and (current is None or mark.pool == current[1].name)
                and user_matches(guest, self.search.text()))

    def _search_changed(self, text: str) -> None:
        self.table_model.set_query(text)
        self.screens.grid_model.mark_stale()

    def new_pool(self) -> QDialog | None:
        connected = [c for c in self.manager.connections if c.is_connected]
        current = self.current_pool()
        conn = current[0] if current else next(iter(connected), None)
        if conn is None:
            show_error(self, "New pool", "Connect to a host first.")
            return None
        return self._pool_dialog(conn, None)

    def edit_pool(self) -> QDialog | None:
        current = self.current_pool()
        return self._pool_dialog(*current) if current else None

    def _pool_dialog(self, conn: Connection, spec: PoolSpec | None) -> QDialog:
        from vmgui.ui.vdi.pool_dialog import PoolDialog

        dialog = PoolDialog(conn, spec, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(lambda saved: self.tasks.spawn(self._after_save(saved.name)))
        dialog.show()
        return dialog

    async def _after_save(self, name: str) -> None:
        await self.reload_pools()
        self.choose_pool(name)

    def _other_hosts(self, conn: Connection) -> list[Connection]:
        return [c for c in self.manager.connections if c is not conn and c.is_connected]

    def _extend_pool(self) -> None:
        current = self.current_pool()
        if current is not None:
            self.tasks.spawn(self.extend_pool(*current))

    async def extend_pool(self, conn: Connection, spec: PoolSpec, target: Connection | None = None,
                          size: int | None = None) -> bool:
        """Give the pool desktops on another host (asked for when not given)."""
        if target is None or size is None:
            answer = await ask_host(self, spec, self._other_hosts(conn))
            if answer is None:
                return False
            target, size = answer
        loop = asyncio.get_running_loop()
        dst, count = target, size

        def said(text: str) -> None:  # in the worker thread
            loop.call_soon_threadsafe(self.status.setText, text)
        self.status.setText(f"Adding {dst.name} to {spec.name}…")
        try:
            made = await conn.call_with(dst, lambda s, d: replicas.extend_pool_to(s, spec.name, d, count,
                                                                                  progress=said))
        except (VmguiError, libvirt.libvirtError) as err:
            message = err.get_error_message() if isinstance(err, libvirt.libvirtError) else str(err)
            self.status.setText(message)
            show_error(self, "Add a host", message)
            return False
        self.status.setText(f"{spec.name} has {len(made)} desktops on {dst.name} now.")
        await self.reload_pools()
        return True

    def _remove_pool(self) -> None:
        current = self.current_pool()
        if current is not None:
            self.tasks.spawn(self.remove_pool(*current))

    async def remove_pool(self, conn: Connection, spec: PoolSpec) -> None:
        users = sorted({g.desktop.user for g in conn.guests.values()
                        if g.desktop and g.desktop.pool == spec.name and g.desktop.user})
        detail = "Its desktops and their disks are deleted; the golden image stays."
        if users:
            detail = (f"Its desktops are deleted, also those of {', '.join(users)}: their work on them is lost. "
                      + detail)
        if not await confirm(self, "Remove pool", f"Remove the pool {spec.name}?", detail, "Remove Pool"):
            return
        await self._run(conn, f"Removing {spec.name}…",
                        lambda c: pools.remove_pool(c, spec.name, assigned_too=True),
                        lambda names: f"{spec.name} and its {len(names)} desktops are removed.")
        await self.reload_pools()

    # ---- desktops -----------------------------------------------------------------------------------

    def selected(self) -> Selected | None:
        if self.tabs.currentWidget() is self.screens:
            chosen = self.screens.selected_guests()
            return chosen[0] if len(chosen) == 1 else None
        rows = self.table.selectionModel().selectedRows()
        return self.table_model.desktop_at(rows[0].row()) if len(rows) == 1 else None

    def select_desktop(self, name: str) -> None:
        for row in range(self.table_model.rowCount()):
            item = self.table_model.desktop_at(row)
            if item is not None and item[1].name == name:
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        one = self.selected()
        for button in self.desktop_buttons:
            button.setEnabled(one is not None)

    def _act(self, action: Callable[[Connection, GuestInfo], object]) -> None:
        one = self.selected()
        if one is None:
            return
        conn, guest = one
        fresh = conn.guests.get(guest.uuid, guest)
        result = action(conn, fresh)
        if isinstance(result, Awaitable):
            self.tasks.spawn(result)  # type: ignore[arg-type]

    def _open(self, conn: Connection, guest: GuestInfo) -> ConsoleView:
        return self._open_console(conn, guest.uuid)

    async def _watch(self, conn: Connection, guest: GuestInfo) -> QWidget | None:
        """The user's screen, view only: the helpdesk sees what the user sees, and types nothing. Through
        VNC, whose clients share the display; a desktop with only SPICE (one viewer at a time) is
        watched through screenshots instead, so its user keeps the session."""
        try:
            kinds = await conn.call(lambda c: [g.type for g in graphics_of(c.lookupByUUIDString(guest.uuid)
                                                                            .XMLDesc(0))])
        except libvirt.libvirtError as err:
            show_error(self, "Watch", err.get_error_message())
            return None
        if "vnc" in kinds or "spice" not in kinds:
            return self._open_console(conn, guest.uuid, view_only=True)
        from vmgui.ui.vdi.screen_watch import ScreenWatch

        watch = ScreenWatch(conn, guest.uuid, guest.name)
        watch.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        watch.show()
        return watch

    def _watch_uuid(self, conn: Connection, uuid: str) -> None:
        guest = conn.guests.get(uuid)
        if guest is not None:
            self.tasks.spawn(self._watch(conn, guest))

    async def _start(self, conn: Connection, guest: GuestInfo) -> None:
        await self._run(conn, f"Starting {guest.name}…", lambda c: desktops.start(c, guest.uuid),
                        lambda d: f"{d.name} is running.")

    async def _shutdown(self, conn: Connection, guest: GuestInfo) -> None:
        try:
            await conn.perform(guest.uuid, Action.SHUTDOWN)
        except VmguiError as err:
            show_error(self, "Shut down", str(err))

    async def reset_desktop(self, conn: Connection, guest: GuestInfo, *, ask: bool = True) -> None:
        user = guest.desktop.user if guest.desktop else None
        who = f"{user}'s work on it" if user else "every change on it"
        if ask and not await confirm(self, "Reset desktop", f"Reset {guest.name} to its golden image?",
                                     f"It is turned off if running, and {who} is lost for good.", "Reset"):
            return
        await self._run(conn, f"Resetting {guest.name}…", lambda c: desktops.reset(c, guest.uuid, force_off=True),
                        lambda d: f"{d.name} is back to golden image v{d.version}.")

    async def assign_desktop(self, conn: Connection, guest: GuestInfo, user: str | None = None) -> None:
        """Give the desktop to a user (asked for when `user` is None; an empty answer frees it)."""
        if user is None:
            current = guest.desktop.user if guest.desktop else None
            answer = await ask_user(self, guest.name, current or "")
            if answer is None:
                return
            user = answer
        clean = user.strip() or None
        await self._run(conn, f"Assigning {guest.name}…", lambda c: desktops.assign(c, guest.uuid, clean),
                        lambda d: f"{d.name} is {d.user}'s now." if d.user else f"{d.name} is free now.")

    async def copy_desktop(self, conn: Connection, guest: GuestInfo, name: str | None = None,
                           linked: bool | None = None) -> None:
        """A copy of the desktop for troubleshooting, outside the pool (asked for when not given)."""
        if name is None or linked is None:
            taken = set(g.name for g in conn.guests.values())
            answer = await ask_copy(self, guest, taken)
            if answer is None:
                return
            name, linked = answer
        copy_name, as_link = name, linked
        await self._run(conn, f"Copying {guest.name} as {copy_name}…",
                        lambda c: desktops.copy_desktop(c, guest.uuid, copy_name, linked=as_link),
                        lambda _uuid: f"{copy_name} is a {'linked' if as_link else 'full'} copy of {guest.name}; "
                                      "it is in the main window's guest list, outside the pool.")

    async def _run(self, conn: Connection, doing: str, work: Callable[[libvirt.virConnect], object],
                   done: Callable[..., str]) -> bool:
        self.status.setText(doing)
        try:
            result = await conn.call(work)
        except (VmguiError, libvirt.libvirtError) as err:
            message = err.get_error_message() if isinstance(err, libvirt.libvirtError) else str(err)
            self.status.setText(message)
            show_error(self, "Desktop pools", message)
            return False
        self.status.setText(done(result))
        return True


def _screen_text(guest: GuestInfo) -> str:
    user = guest.desktop.user if guest.desktop and guest.desktop.user else "free"
    return f"{guest.name} · {user}\n{guest.state_text}"
