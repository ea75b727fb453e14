"""The console window: guests' consoles as tabs, each of which can be detached into a window of its own."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMainWindow, QTabWidget, QWidget

from vmgui.console.any_session import AnySession
from vmgui.console.graphics import CONSOLE_TYPES
from vmgui.console.guest_console import GuestConsole
from vmgui.core.connection import Connection
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.settings import Settings


class ConsoleWindow(QMainWindow):
    """A window of console tabs. Closing a tab or the window closes those consoles."""

    emptied = Signal()

    def __init__(self, parent: QWidget | None = None, *, settings: Settings | None = None,
                 new_window: Callable[[], ConsoleWindow] | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("console_window")
        self.setWindowTitle("Consoles — vmgui")
        self.tabs = QTabWidget()
        self.tabs.setObjectName("console_tabs")
        self.tabs.setTabsClosable(True)
        self.tabs.setMovable(True)
        self.tabs.setDocumentMode(True)
        self.tabs.tabCloseRequested.connect(lambda i: self.close_view(self.view_at(i)))
        self.tabs.currentChanged.connect(lambda _i: self._update_title())
        self.setCentralWidget(self.tabs)
        self.resize(1060, 860)
        self.settings = settings
        self.kiosk = False  # closing the window is refused; only the kiosk exit combination quits
        self._new_window = new_window or (
            lambda: ConsoleWindow(self.parentWidget(), settings=self.settings, new_window=self._new_window))

    # ---- views ----------------------------------------------------------------------------------

    def views(self) -> list[ConsoleView]:
        return [v for i in range(self.tabs.count()) if isinstance(v := self.tabs.widget(i), ConsoleView)]

    def view_at(self, index: int) -> ConsoleView | None:
        widget = self.tabs.widget(index)
        return widget if isinstance(widget, ConsoleView) else None

    def current_view(self) -> ConsoleView | None:
        return self.view_at(self.tabs.currentIndex())

    def find_guest(self, connection: Connection, uuid: str) -> ConsoleView | None:
        for view in self.views():
            c = view.controller
            if isinstance(c, GuestConsole) and c.connection is connection and c.uuid == uuid:
                return view
        return None

    def open_guest(self, connection: Connection, uuid: str, *, view_only: bool = False) -> ConsoleView:
        """Show the guest's console (a new tab, or the one already open) and bring the window up; with
        `view_only`, no input reaches the guest and only VNC is used (its clients share the display,
        while a second SPICE client would take the guest's screen from its user)."""
        view = self.find_guest(connection, uuid)
        if view is None:
            session = AnySession()
            console = GuestConsole(connection, uuid, session, kinds=("vnc",) if view_only else CONSOLE_TYPES)
            view = ConsoleView(console, session)
            view.set_view_only(view_only)
            self.add_view(view)
            console.open()
        elif view.display.view_only != view_only:
            view.set_view_only(view_only)
        self.tabs.setCurrentWidget(view)
        self.show()
        self.raise_()
        self.activateWindow()
        return view

    def add_view(self, view: ConsoleView) -> None:
        index = self.tabs.addTab(view, view.title)
        self.tabs.setTabToolTip(index, view.controller.status.text())
        view.title_changed.connect(lambda v=view: self._view_changed(v))
        view.fullscreen_requested.connect(lambda on, v=view: self._fullscreen(v, on))
        view.detach_requested.connect(lambda v=view: self.detach(v))
        view.release_combo_chosen.connect(self.set_release_combo)
        if self.settings is not None:
            view.set_release_combo(self.settings.release_combo())
        self._update_title()

    def take_view(self, view: ConsoleView) -> None:
        """Remove the tab without closing its console (to move it elsewhere)."""
        for signal in (view.title_changed, view.fullscreen_requested, view.detach_requested,
                       view.release_combo_chosen):
            signal.disconnect()
        index = self.tabs.indexOf(view)
        if index >= 0:
            self.tabs.removeTab(index)
        view.setParent(None)
        self._after_removal()

    def close_view(self, view: ConsoleView | None) -> None:
        if view is None:
            return
        view.set_fullscreen(False)
        self.take_view(view)
        view.close_console()
        view.deleteLater()

    def detach(self, view: ConsoleView) -> ConsoleWindow:
        """Move the view into a window of its own."""
        view.set_fullscreen(False)
        self.take_view(view)
        window = self._new_window()
        window.add_view(view)
        window.resize(self.size())
        window.show()
        return window

    def set_release_combo(self, combo: str) -> None:
        """Use this release combination in every console (and remember it)."""
        if self.settings is not None:
            self.settings.set_release_combo(combo)
        for view in self.views():
            view.set_release_combo(combo)

    # ---- window ---------------------------------------------------------------------------------

    def _view_changed(self, view: ConsoleView) -> None:
        index = self.tabs.indexOf(view)
        if index >= 0:
            self.tabs.setTabText(index, view.title)
            self.tabs.setTabToolTip(index, view.controller.status.text())
        self._update_title()

    def _update_title(self) -> None:
        view = self.current_view()
        if view is not None:
            self.setWindowTitle(f"{view.title} ({view.controller.status.state.value}) — vmgui")

    def _fullscreen(self, view: ConsoleView, on: bool) -> None:
        self.tabs.tabBar().setVisible(not on)
        if on:
            self.tabs.setCurrentWidget(view)
            self.showFullScreen()
        else:
            self.showNormal()

    def _after_removal(self) -> None:
        if self.tabs.count() == 0:
            self.hide()
            self.emptied.emit()
        else:
            self._update_title()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.kiosk:
            event.ignore()
            return
        for view in self.views():
            self.close_view(view)
        super().closeEvent(event)
