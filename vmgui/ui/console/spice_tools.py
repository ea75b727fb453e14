"""A console view's SPICE-only tools: clipboard sharing (off by default), guest resolution, USB devices and CDs."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMenu, QToolButton

from vmgui.console.any_session import AnySession
from vmgui.console.spice_session import SpiceSession
from vmgui.console.state import ConsoleStatus

log = logging.getLogger(__name__)
RESIZE_SETTLE_MS = 400
NO_CHANNEL = "This guest has no USB redirection channel (add a <redirdev bus='usb' type='spicevmc'/>)."
NO_DEVICES = "No USB devices on this computer."


class SpiceTools(QObject):
    """Adds its actions to the view's toolbar; they show only while the console speaks SPICE."""

    def __init__(self, view: Any, session: AnySession) -> None:
        super().__init__(view)
        self.view = view
        self.session = session
        self._bound: SpiceSession | None = None
        self._setting_clipboard = False
        bar = view.toolbar
        self.separator = bar.addSeparator()
        self.clipboard_action = QAction("Clipboard: off", self)
        self.clipboard_action.setObjectName("clipboard_action")
        self.clipboard_action.setCheckable(True)
        self.clipboard_action.toggled.connect(self._clipboard_toggled)
        self.resize_action = QAction("Resize guest", self)
        self.resize_action.setObjectName("resize_guest_action")
        self.resize_action.setCheckable(True)
        self.resize_action.toggled.connect(lambda _on: self._schedule_resize())
        self.usb_menu = QMenu("USB", view)
        self.usb_menu.setObjectName("usb_menu")
        self.usb_menu.aboutToShow.connect(self.rebuild_usb_menu)
        self.usb_button = QToolButton()
        self.usb_button.setText("USB")
        self.usb_button.setMenu(self.usb_menu)
        self.usb_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.actions = [self.separator, self.clipboard_action, self.resize_action, bar.addWidget(self.usb_button)]
        bar.insertAction(self.actions[3], self.clipboard_action)
        bar.insertAction(self.actions[3], self.resize_action)
        self._resize_timer = QTimer(self, singleShot=True, interval=RESIZE_SETTLE_MS)
        self._resize_timer.timeout.connect(self.resize_guest_now)
        view.display.zoom_changed.connect(self._schedule_resize)
        QGuiApplication.clipboard().dataChanged.connect(self._host_clipboard_changed)
        session.status_changed.connect(self._status_changed)
        self._status_changed(session.status)

    def detach(self) -> None:
        self.session.status_changed.disconnect(self._status_changed)
        if self._bound is not None:
            self._bound.features_changed.disconnect(self.update_states)
            self._bound.guest_clipboard.disconnect(self._guest_clipboard)
            self._bound = None

    # ---- state ----------------------------------------------------------------------------------

    def _status_changed(self, _status: ConsoleStatus) -> None:
        spice = self.session.spice
        if spice is not self._bound:
            if self._bound is not None:
                self._bound.features_changed.disconnect(self.update_states)
                self._bound.guest_clipboard.disconnect(self._guest_clipboard)
            self._bound = spice
            if spice is not None:
                spice.features_changed.connect(self.update_states)
                spice.guest_clipboard.connect(self._guest_clipboard)
                spice.set_clipboard_sharing(self.clipboard_action.isChecked())
        for action in self.actions:
            action.setVisible(spice is not None)
        self.update_states()

    def update_states(self) -> None:
        spice = self._bound
        if spice is None:
            return
        agent = spice.agent_connected
        state = "on" if self.clipboard_action.isChecked() else "off"
        self.clipboard_action.setText(f"Clipboard: {state}")
        self.clipboard_action.setToolTip(
            f"Clipboard sharing with the guest is {state}." + ("" if agent else
            " The guest has no SPICE agent (spice-vdagent), so nothing is exchanged yet."))
        why = spice.can_resize_guest()
        self.resize_action.setEnabled(not why)
        self.resize_action.setToolTip("Make the guest's resolution follow the window" if not why
                                      else f"Not available: {why}.")
        self._schedule_resize()

    # ---- clipboard ------------------------------------------------------------------------------

    def _clipboard_toggled(self, on: bool) -> None:
        if self._bound is not None:
            self._bound.set_clipboard_sharing(on)
            if on:
                self._bound.offer_clipboard(QGuiApplication.clipboard().text())
        self.update_states()

    def _host_clipboard_changed(self) -> None:
        if self._bound is not None and not self._setting_clipboard:
            self._bound.offer_clipboard(QGuiApplication.clipboard().text())

    def _guest_clipboard(self, text: str) -> None:
        self._setting_clipboard = True
        try:
            QGuiApplication.clipboard().setText(text)
        finally:
            self._setting_clipboard = False

    # ---- guest resolution -----------------------------------------------------------------------

    def _schedule_resize(self) -> None:
        if self.resize_action.isChecked() and self.resize_action.isEnabled():
            self._resize_timer.start()

    def resize_guest_now(self) -> bool:
        display, spice = self.view.display, self._bound
        if spice is None or not self.resize_action.isChecked():
            return False
        ratio = display.devicePixelRatioF()
        viewport = self.view.scroll_area.viewport().size()
        return spice.resize_guest(int(viewport.width() * ratio), int(viewport.height() * ratio))

    # ---- USB ------------------------------------------------------------------------------------

    def rebuild_usb_menu(self) -> None:
        menu, spice = self.usb_menu, self._bound
        menu.clear()
        if spice is None or not spice.connected:
            menu.addAction("The console is not connected.").setEnabled(False)
            return
        if spice.usb_channels == 0:
            menu.addAction(NO_CHANNEL).setEnabled(False)
            return
        manager = spice.usb_manager()
        devices = list(manager.get_devices() or [])
        if not devices:
            menu.addAction(NO_DEVICES).setEnabled(False)
        for device in devices:
            item = menu.addAction(device.get_description(None) or "USB device")
            item.setCheckable(True)
            item.setChecked(bool(manager.is_device_connected(device)))
            item.toggled.connect(lambda on, d=device: self._redirect(manager, d, on))
        menu.addSeparator()
        share = menu.addAction("Share a CD/DVD image…")
        share.setObjectName("usb_share_cd")
        share.triggered.connect(self._ask_cd_image)
        auto = menu.addAction("Redirect newly plugged devices")
        auto.setObjectName("usb_auto_connect")
        auto.setCheckable(True)
        auto.setChecked(bool(manager.props.auto_connect))
        auto.toggled.connect(lambda on: setattr(manager.props, "auto_connect", on))

    def _ask_cd_image(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.view, "Share an image as a USB CD drive", "",
                                              "Disc images (*.iso *.img);;All files (*)")
        if path:
            self.share_cd_image(path)

    def share_cd_image(self, path: str) -> bool:
        """Offer an image file as an emulated USB CD drive; it then shows in this menu, ready to redirect."""
        spice = self._bound
        if spice is None or not spice.connected or spice.usb_channels == 0:
            return False
        try:
            return bool(spice.usb_manager().create_shared_cd_device(path))
        except Exception as err:  # GLib.Error: say it where the user looks
            self.view.hint.setText(f"Could not share {path}: {err}")
            return False

    def _redirect(self, manager: Any, device: Any, on: bool) -> None:
        def done(source: Any, result: Any, *_: Any) -> None:
            try:
                (source.connect_device_finish if on else source.disconnect_device_finish)(result)
            except Exception as err:  # GLib.Error from spice-glib: say it where the user looks
                self.view.hint.setText(f"USB redirection failed: {err}")
        if on:
            manager.connect_device_async(device, None, done)
        else:
            manager.disconnect_device_async(device, None, done)
