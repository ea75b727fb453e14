"""The main window: the connection/guest tree with live stats, search, toolbar and context menus."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, QPoint, Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QSizePolicy,
    QStackedWidget,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vmgui.console import external_viewer
from vmgui.core.connection import Connection, ConnectionState
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.domstate import GuestState
from vmgui.core.errors import VmguiError
from vmgui.core.guest import GuestInfo
from vmgui.core.lifecycle import Action
from vmgui.ui import formatting
from vmgui.ui.add_connection import AddConnectionDialog
from vmgui.ui.async_dialogs import confirm, show_error
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.console.console_window import ConsoleWindow
from vmgui.ui.guest_actions import GuestActions, Selection
from vmgui.ui.guest_grid import GuestGrid
from vmgui.ui.guest_model import GuestTreeModel
from vmgui.ui.guest_tree import GuestTree
from vmgui.ui.settings import Settings
from vmgui.ui.state_icons import state_icon
from vmgui.ui.tags_dialog import TagsDialog
from vmgui.ui.tasks import TaskGroup
from vmgui.ui.thumbnails import Thumbnails
from vmgui.ui.vdi.demo_offer import DemoOffer
from vmgui.ui.vdi.vdi_menu import VdiMenu

if TYPE_CHECKING:
    from vmgui.ui.clone_dialog import CloneDialog
    from vmgui.ui.delete_dialog import DeleteDialog
    from vmgui.ui.new_guest.wizard import NewGuestWizard
    from vmgui.ui.snapshots_window import SnapshotsWindow

STATS_INTERVALS = ((1.0, "Every second"), (3.0, "Every 3 seconds"), (5.0, "Every 5 seconds"),
                   (10.0, "Every 10 seconds"), (0.0, "Off"))

AskConnection = Callable[[QWidget], "tuple[str, bool] | None"]
LaunchViewer = Callable[[Path], None]


class MainWindow(QMainWindow):
    def __init__(
        self,
        manager: ConnectionManager,
        settings: Settings,
        *,
        ask_connection: AskConnection = AddConnectionDialog.ask,
        launch_viewer: LaunchViewer = external_viewer.launch,
    ) -> None:
        super().__init__()
        self.setWindowTitle("vmgui")
        self.setObjectName("main_window")
        self.manager = manager
        self.settings = settings
        self._ask_connection = ask_connection
        self._launch_viewer = launch_viewer
        self.tasks = TaskGroup()
        self._console_window: ConsoleWindow | None = None

        self.model = GuestTreeModel(manager, self)
        self.tree = self._make_tree()
        self.thumbnails = Thumbnails(self.tasks, parent=self)
        self.grid = GuestGrid(manager, self.thumbnails)
        self.grid.guest_activated.connect(self.open_console)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._grid_context_menu)
        self.views = QStackedWidget()
        self.views.addWidget(self.tree)
        self.views.addWidget(self.grid)
        self.demo_offer = DemoOffer(manager, self.tasks, show_portal=lambda: self.vdi.show_portal())
        central = QWidget()  # the demo banner (shown on a host with no guests) above the views
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.demo_offer)
        column.addWidget(self.views, 1)
        self.setCentralWidget(central)

        self.guest_actions = GuestActions(self, self.selected_guests, self.tasks)
        self.vdi = VdiMenu(self, manager, self._one_selected, self.open_console)
        self._make_actions()
        self._make_toolbar()
        self._make_menus()
        self.status = QLabel()
        self.status.setObjectName("status")
        self.statusBar().addPermanentWidget(self.status, 1)

        # Counts and action states follow the model; coalesce bursts of changes into one update.
        self._refresh_timer = QTimer(self, singleShot=True, interval=150)
        self._refresh_timer.timeout.connect(self._refresh_status)
        # Not on dataChanged: stats ticks change data on every row and need no recount.
        for sig in (self.model.guests_updated, self.model.rowsInserted, self.model.rowsRemoved,
                    self.model.layoutChanged):
            sig.connect(lambda *_: self._refresh_timer.start())
        self.model.rowsInserted.connect(self._expand_new_connections)
        self._reexpand: list[QPersistentModelIndex] = []
        self.model.rowsAboutToBeInserted.connect(self._collapse_before_first_load)
        self._countdown = QTimer(self, interval=1000)
        self._countdown.timeout.connect(self._tick_countdown)
        self._countdown.start()
        self.tree.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())
        self.grid.selectionModel().selectionChanged.connect(lambda *_: self._selection_changed())

        geometry = settings.window_geometry()
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(980, 600)
        header = settings.header_state()
        if header is not None:
            self.tree.header().restoreState(header)
        self._refresh_status()

    # ---- building -------------------------------------------------------------------------------

    def _make_tree(self) -> GuestTree:
        tree = GuestTree(self.model, self)
        tree.setObjectName("guest_tree")
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._context_menu)
        tree.doubleClicked.connect(self._activated)
        return tree

    def _make_actions(self) -> None:
        self.add_connection_action = QAction(state_icon("connected"), "Add Connection…", self)
        self.add_connection_action.setObjectName("action_add_connection")
        self.add_connection_action.triggered.connect(self.add_connection)
        self.console_action = QAction(state_icon("running"), "Open Console", self)
        self.console_action.setObjectName("action_console")
        self.console_action.setToolTip("Show the selected guests' screens (double-click a guest does the same)")
        self.console_action.triggered.connect(self.open_consoles)
        self.external_viewer_action = QAction("Open in Remote Viewer", self)
        self.external_viewer_action.setObjectName("action_external_viewer")
        self.external_viewer_action.setToolTip("Open the guest's console in remote-viewer (a .vv file that deletes "
                                               "itself)")
        self.external_viewer_action.triggered.connect(self.open_external_viewer)
        self.new_guest_action = QAction(state_icon("shutoff"), "New Guest…", self)
        self.new_guest_action.setObjectName("action_new_guest")
        self.new_guest_action.setToolTip("Create a guest on the selected host (install media, disk image, kernel)")
        self.new_guest_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_guest_action.triggered.connect(lambda: self.new_guest())
        self.clone_action = QAction("Clone…", self)
        self.clone_action.setObjectName("action_clone")
        self.clone_action.setToolTip("Copy the selected guest: full copies, linked clones or shared disks; one or many")
        self.clone_action.triggered.connect(self.clone_guest)
        self.delete_action = QAction("Delete…", self)
        self.delete_action.setObjectName("action_delete")
        self.delete_action.setToolTip("Remove the selected guest and, if you tick them, the disk images only it uses")
        self.delete_action.triggered.connect(self.delete_guest)
        self.snapshots_action = QAction("Snapshots…", self)
        self.snapshots_action.setObjectName("action_snapshots")
        self.snapshots_action.setToolTip("The selected guest's snapshots: take, revert, delete")
        self.snapshots_action.triggered.connect(self.show_snapshots)
        self.tags_action = QAction("Edit Tags…", self)
        self.tags_action.setObjectName("action_tags")
        self.tags_action.triggered.connect(self.edit_tags)
        self.quit_action = QAction("Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)
        self.find_action = QAction("Find", self)
        self.find_action.setShortcut(QKeySequence.StandardKey.Find)
        self.find_action.triggered.connect(lambda: self.search.setFocus())
        self.addAction(self.find_action)

    def _make_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        a = self.guest_actions.actions
        bar.addAction(self.add_connection_action)
        bar.addAction(self.new_guest_action)
        bar.addSeparator()
        bar.addAction(self.console_action)
        for action in (Action.START, Action.PAUSE, Action.RESUME):
            bar.addAction(a[action])
        shutdown_menu = QMenu(self)
        for action in (Action.SHUTDOWN, Action.REBOOT, Action.FORCE_OFF, Action.SAVE):
            shutdown_menu.addAction(a[action])
        bar.addAction(a[Action.SHUTDOWN])
        button = bar.widgetForAction(a[Action.SHUTDOWN])
        if isinstance(button, QToolButton):
            button.setMenu(shutdown_menu)
            button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        # Pause and Resume show their icons only (their names are tooltips), so the search box keeps its
        # place at the default width instead of falling behind the toolbar's overflow arrow.
        for action in (Action.PAUSE, Action.RESUME):
            tool = bar.widgetForAction(a[action])
            if isinstance(tool, QToolButton):
                tool.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        self.search = QLineEdit()
        self.search.setObjectName("search")
        self.search.setPlaceholderText("Filter by name, state or tag")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Words match a guest's name, title, state or tags; all must match.\n"
                               "tag:prod and state:running match only tags or only the state.")
        self.search.setMinimumWidth(300)
        self.search.textChanged.connect(self._filter_changed)
        bar.addWidget(self.search)
        self.addToolBar(bar)

    def _make_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.add_connection_action)
        file_menu.addAction(self.new_guest_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = self.menuBar().addMenu("&View")
        modes = QActionGroup(self)
        for text, name, shortcut, grid in (("Guest List", "view_list", "Ctrl+1", False),
                                           ("Screens", "view_screens", "Ctrl+2", True)):
            qaction = view_menu.addAction(text)
            qaction.setObjectName(name)
            qaction.setCheckable(True)
            qaction.setChecked(not grid)
            qaction.setShortcut(QKeySequence(shortcut))
            qaction.triggered.connect(lambda _checked=False, g=grid: self.show_screens(g))
            modes.addAction(qaction)
        view_menu.addSeparator()
        stats_menu = view_menu.addMenu("Stats Interval")
        group = QActionGroup(self)
        for seconds, label in STATS_INTERVALS:
            qaction = stats_menu.addAction(label)
            qaction.setCheckable(True)
            qaction.setChecked(seconds == self.manager.stats_interval)
            qaction.setObjectName(f"stats_interval_{seconds:g}")
            qaction.triggered.connect(lambda _checked=False, s=seconds: self.set_stats_interval(s))
            group.addAction(qaction)
        guest_menu = self.menuBar().addMenu("&Guest")
        guest_menu.addAction(self.console_action)
        guest_menu.addAction(self.external_viewer_action)
        guest_menu.addSeparator()
        for qaction in self.guest_actions.actions.values():
            guest_menu.addAction(qaction)
        guest_menu.addSeparator()
        guest_menu.addAction(self.snapshots_action)
        guest_menu.addAction(self.clone_action)
        guest_menu.addAction(self.delete_action)
        guest_menu.addAction(self.tags_action)
        self.vdi.fill(self.menuBar().addMenu("&Desktops"))

    # ---- selection ------------------------------------------------------------------------------

    def show_screens(self, on: bool) -> None:
        """Switch between the guest list and the grid of screens (thumbnails of running guests)."""
        self.views.setCurrentWidget(self.grid if on else self.tree)
        self._selection_changed()

    def selected_guests(self) -> Selection:
        if self.views.currentWidget() is self.grid:
            return self.grid.selected_guests()
        result: Selection = []
        for index in self.tree.selectionModel().selectedRows(0):
            guest, conn = self.model.guest_at(index), self.model.connection_at(index)
            if guest is not None and conn is not None:
                result.append((conn, guest))
        return result

    def selected_connections(self) -> list[Connection]:
        result = []
        for index in self.tree.selectionModel().selectedRows(0):
            if not index.parent().isValid():
                conn = self.model.connection_at(index)
                if conn is not None:
                    result.append(conn)
        return result

    def select_guest(self, conn: Connection, uuid: str, *, add: bool = False) -> None:
        index = self.model.index_of_guest(conn, uuid)
        flags = QItemSelectionModel.SelectionFlag.Rows | (
            QItemSelectionModel.SelectionFlag.Select if add else QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.tree.selectionModel().select(index, flags)

    def _selection_changed(self) -> None:
        self.guest_actions.update()
        self.new_guest_action.setEnabled(any(c.is_connected for c in self.manager.connections))
        selected = self.selected_guests()
        self.console_action.setEnabled(bool(selected))
        for action in (self.external_viewer_action, self.tags_action, self.clone_action, self.delete_action,
                       self.snapshots_action):  # what works on one guest at a time
            action.setEnabled(len(selected) == 1)
        self.vdi.selection_changed()

    def _one_selected(self) -> tuple[Connection, GuestInfo] | None:
        """The selected guest, when exactly one is."""
        selected = self.selected_guests()
        return selected[0] if len(selected) == 1 else None

    def _show_for_guest(self, widget: QWidget) -> None:
        """Show a window or dialog about a guest; it is deleted once closed."""
        widget.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        widget.show()

    # ---- new guests ------------------------------------------------------------------------------

    def new_guest(self, conn: Connection | None = None) -> NewGuestWizard | None:
        """Open the New Guest wizard for `conn`, or for the selected (else the first connected) host."""
        if conn is None:
            current = self.model.connection_at(self.tree.currentIndex())
            connected = [c for c in self.manager.connections if c.is_connected]
            conn = current if current is not None and current.is_connected else next(iter(connected), None)
        if conn is None or not conn.is_connected:
            show_error(self, "New guest", "Connect to a host first: a new guest is created on a connected host.")
            return None
        from vmgui.ui.new_guest.wizard import NewGuestWizard  # imported when first used: not on the start path

        wizard = NewGuestWizard(conn, self)
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.created.connect(lambda guest: self._select_when_listed(conn, guest.uuid))
        wizard.show()
        return wizard

    def clone_guest(self) -> CloneDialog | None:
        """The Clone dialog for the selected guest."""
        from vmgui.ui.clone_dialog import CloneDialog  # imported when first used: not on the start path

        one = self._one_selected()
        if one is None:
            return None
        conn, guest = one
        dialog = CloneDialog(conn, guest.uuid, guest.name, self)
        dialog.cloned.connect(lambda made: self._select_when_listed(conn, made[-1].uuid) if made else None)
        self._show_for_guest(dialog)
        return dialog

    def show_snapshots(self) -> SnapshotsWindow | None:
        """The snapshots window of the selected guest."""
        from vmgui.ui.snapshots_window import SnapshotsWindow  # imported when first used: not on the start path

        one = self._one_selected()
        if one is None:
            return None
        conn, guest = one
        window = SnapshotsWindow(conn, guest.uuid, guest.name, self)
        self._show_for_guest(window)
        return window

    def delete_guest(self) -> DeleteDialog | None:
        """The Delete dialog for the selected guest."""
        from vmgui.ui.delete_dialog import DeleteDialog  # imported when first used: not on the start path

        one = self._one_selected()
        if one is None:
            return None
        conn, guest = one
        dialog = DeleteDialog(conn, guest.uuid, guest.name, guest.state.is_active, self)
        self._show_for_guest(dialog)
        return dialog

    def _select_when_listed(self, conn: Connection, uuid: str) -> None:
        """Select a guest as soon as its row exists (libvirt's event may come after the wizard closes)."""
        def try_select() -> None:
            if self.model.index_of_guest(conn, uuid).isValid():
                self.model.guests_updated.disconnect(try_select)
                self.select_guest(conn, uuid)
                self.tree.scrollTo(self.model.index_of_guest(conn, uuid))
        self.model.guests_updated.connect(try_select)
        try_select()

    # ---- consoles -------------------------------------------------------------------------------

    def console_window(self) -> ConsoleWindow:
        if self._console_window is None:
            self._console_window = ConsoleWindow(self, settings=self.settings)
        return self._console_window

    def open_console(self, conn: Connection, uuid: str, *, view_only: bool = False) -> ConsoleView:
        return self.console_window().open_guest(conn, uuid, view_only=view_only)

    def open_consoles(self) -> None:
        for conn, guest in self.selected_guests()[:8]:  # a slip of the mouse should not open hundreds
            self.open_console(conn, guest.uuid)

    def open_external_viewer(self) -> None:
        one = self._one_selected()
        if one is not None:
            self.tasks.spawn(self._external_viewer(*one))

    async def _external_viewer(self, conn: Connection, guest: GuestInfo) -> None:
        try:
            vv = await conn.call(lambda c: external_viewer.viewer_file(c, guest.uuid, conn.uri))
            self._launch_viewer(external_viewer.write_temporary(vv))
        except (VmguiError, OSError) as err:
            show_error(self, "Remote viewer not opened", f"Could not open {guest.name} in a remote viewer: {err}")

    def _activated(self, index: QModelIndex) -> None:
        guest, conn = self.model.guest_at(index), self.model.connection_at(index)
        if guest is not None and conn is not None:
            self.open_console(conn, guest.uuid)

    # ---- behaviour ------------------------------------------------------------------------------

    def set_stats_interval(self, seconds: float) -> None:
        self.manager.set_stats_interval(seconds)
        self.settings.set_stats_interval(seconds)

    def _tick_countdown(self) -> None:
        if any(c.retry_at is not None for c in self.manager.connections):
            self.model.refresh_connections()

    def _filter_changed(self, text: str) -> None:
        self.model.set_query(text)
        self.grid.grid_model.set_query(text)
        self.tree.expandAll()
        self._refresh_status()

    def _collapse_before_first_load(self, parent: QModelIndex, first: int, last: int) -> None:
        # Rows inserted under an expanded item make QTreeView lay out every row it shows again, each
        # row a call into the Python model (90 ms under load at 5,000 guests). Expanding a connection
        # after its first rows arrive lays out only its own rows.
        if parent.isValid() and self.model.rowCount(parent) == 0 and self.tree.isExpanded(parent):
            self.tree.collapse(parent)
            self._reexpand.append(QPersistentModelIndex(parent))

    def _expand_new_connections(self, parent: QModelIndex, first: int, last: int) -> None:
        if not parent.isValid():
            for row in range(first, last + 1):
                self.tree.expand(self.model.index(row, 0))
            return
        if any(index == parent for index in self._reexpand):
            self.tree.expand(parent)
        self._reexpand = [i for i in self._reexpand if i.isValid() and i != parent]

    def _refresh_status(self) -> None:
        conns = self.manager.connections
        guests = [g for c in conns for g in c.guests.values()]
        running = sum(g.state in (GuestState.RUNNING, GuestState.BLOCKED) for g in guests)
        connected = sum(c.state is ConnectionState.CONNECTED for c in conns)
        text = (f"{formatting.count(len(guests), 'guest')}, {running} running · "
                f"{connected} of {len(conns)} connections up")
        if self.model.query.strip():
            text = f"{self.model.shown_count()} shown of " + text
        self.status.setText(text)
        self._selection_changed()

    def add_connection(self) -> None:
        answer = self._ask_connection(self)
        if answer is None:
            return
        uri, autoconnect = answer
        self.settings.remember_connection(uri, autoconnect)
        conn = self.manager.add(uri)
        self.tasks.spawn(conn.connect())

    def edit_tags(self) -> None:
        one = self._one_selected()
        if one is None:
            return
        conn, guest = one
        dialog = TagsDialog(guest.name, guest.tags, self)
        dialog.setObjectName("tags_dialog")

        def done(result: int) -> None:
            dialog.deleteLater()
            if result == TagsDialog.DialogCode.Accepted:
                self.tasks.spawn(self._save_tags(conn, guest.uuid, guest.name, dialog.tags()))
        dialog.finished.connect(done)
        dialog.open()

    async def _save_tags(self, conn: Connection, uuid: str, name: str, tags: tuple[str, ...]) -> None:
        try:
            await conn.set_tags(uuid, tags)
        except (VmguiError, ValueError) as err:
            show_error(self, "Tags not saved", str(err))

    async def remove_connection(self, conn: Connection) -> None:
        if not await confirm(self, "Remove connection?", f"Remove the connection {conn.name}?",
                             "Its guests keep running; vmgui only forgets the host.", "Remove"):
            return
        self.settings.forget_connection(conn.uri)
        await self.manager.remove(conn)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.tree.indexAt(pos)
        if not index.isValid():
            return
        menu = QMenu(self)
        if not index.parent().isValid():
            conn = self.model.connection_at(index)
            if conn is None:
                return
            if conn.state is ConnectionState.DISCONNECTED:
                menu.addAction("Connect", lambda: self.tasks.spawn(conn.connect()))
            else:
                menu.addAction("New Guest…", lambda: self.new_guest(conn))
                menu.addAction("Disconnect", lambda: self.tasks.spawn(conn.disconnect()))
            menu.addAction("Remove…", lambda: self.tasks.spawn(self.remove_connection(conn)))
        else:
            menu.addAction(self.console_action)
            menu.addAction(self.external_viewer_action)
            menu.addSeparator()
            for qaction in self.guest_actions.actions.values():
                menu.addAction(qaction)
            menu.addSeparator()
            menu.addAction(self.snapshots_action)
            menu.addAction(self.clone_action)
            menu.addAction(self.delete_action)
            menu.addAction(self.tags_action)
        menu.popup(self.tree.viewport().mapToGlobal(pos))

    def _grid_context_menu(self, pos: QPoint) -> None:
        if not self.grid.indexAt(pos).isValid():
            return
        menu = QMenu(self)
        menu.addAction(self.console_action)
        menu.addSeparator()
        for qaction in self.guest_actions.actions.values():
            menu.addAction(qaction)
        menu.popup(self.grid.viewport().mapToGlobal(pos))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.save_window(self.saveGeometry(), self.tree.header().saveState())
        self.tasks.cancel_all()
        for consoles in self.findChildren(ConsoleWindow):  # the tabbed one and those detached from it
            consoles.close()
        self.model.detach()
        super().closeEvent(event)
