"""The main window's Desktops menu: publish a golden image, desktop pools, my desktops, the demo pool."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

from vmgui.core.connection import Connection
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.guest import GuestInfo
from vmgui.ui.console.console_view import ConsoleView
from vmgui.ui.vdi.demo_offer import DemoOffer

if TYPE_CHECKING:
    from vmgui.ui.vdi.golden_dialog import GoldenDialog
    from vmgui.ui.vdi.pools_window import PoolsWindow
    from vmgui.ui.vdi.portal import PortalWindow

OneSelected = Callable[[], "tuple[Connection, GuestInfo] | None"]
OpenConsole = Callable[[Connection, str], ConsoleView]


class VdiMenu(QObject):
    """Builds the Desktops menu of `window` and opens the VDI windows (each module is imported when first
    used, so none of it is on the start path)."""

    def __init__(self, window: QMainWindow, manager: ConnectionManager, one_selected: OneSelected,
                 open_console: OpenConsole) -> None:
        super().__init__(window)
        self.window = window
        self.manager = manager
        self._one_selected = one_selected
        self._open_console = open_console
        self.publish_action = self._action("Publish as Golden Image…", "action_publish_golden",
                                           "Publish the selected shut-off guest's disk as a new read-only version "
                                           "of its golden image; see its versions", self.publish_golden)
        self.pools_action = self._action("Desktop Pools…", "action_desktop_pools",
                                         "Every pool's desktops, their users and screens: create and size pools, "
                                         "reset, reassign and copy desktops", self.show_pools)
        self.portal_action = self._action("My Desktops…", "action_my_desktops",
                                          "The desktops assigned to you: one click opens one", self.show_portal)
        self.pools_window: PoolsWindow | None = None
        self.portal: PortalWindow | None = None

    def _action(self, text: str, name: str, tip: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(name)
        action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def fill(self, menu: QMenu) -> None:
        menu.addAction(self.portal_action)
        menu.addAction(self.pools_action)
        menu.addSeparator()
        menu.addAction(self.publish_action)
        demo = self.window.findChild(DemoOffer)  # the main window's demo banner owns the demo pool's actions
        if demo is not None:
            menu.addSeparator()
            menu.addAction(demo.try_action)
            menu.addAction(demo.remove_action)

    def selection_changed(self) -> None:
        self.publish_action.setEnabled(self._one_selected() is not None)

    def publish_golden(self) -> GoldenDialog | None:
        from vmgui.ui.vdi.golden_dialog import GoldenDialog

        one = self._one_selected()
        if one is None:
            return None
        conn, guest = one
        dialog = GoldenDialog(conn, guest.uuid, guest.name, self.window)
        _show(dialog)
        return dialog

    def show_pools(self) -> PoolsWindow:
        from vmgui.ui.vdi.pools_window import PoolsWindow

        if self.pools_window is None:
            self.pools_window = PoolsWindow(self.manager, self._open_console, self.window)
            self.pools_window.destroyed.connect(lambda: setattr(self, "pools_window", None))
            _show(self.pools_window)
        self.pools_window.raise_()
        self.pools_window.activateWindow()
        return self.pools_window

    def show_portal(self) -> PortalWindow:
        from vmgui.ui.vdi.portal import PortalWindow

        if self.portal is None:
            self.portal = PortalWindow(self.manager, parent=self.window)
            self.portal.destroyed.connect(lambda: setattr(self, "portal", None))
            _show(self.portal)
        self.portal.raise_()
        self.portal.activateWindow()
        return self.portal


def _show(widget: QWidget) -> None:
    widget.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    widget.show()
