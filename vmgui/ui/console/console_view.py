"""One console as a tab: the display in a scroll area, its toolbar, a password prompt and the grab hint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QGuiApplication, QKeySequence, QMouseEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from vmgui.console import keymap
from vmgui.console.any_session import AnySession
from vmgui.console.session import ConsoleSession
from vmgui.console.state import ConsoleState, ConsoleStatus
from vmgui.core.observable import Callbacks
from vmgui.ui.console.display import ConsoleDisplay
from vmgui.ui.console.spice_tools import SpiceTools
from vmgui.ui.settings import DEFAULT_RELEASE_COMBO, RELEASE_COMBOS

OVERLAY_HIDE_MS = 1500


class Controller(Protocol):
    """What keeps the session connected: a GuestConsole, or a plain viewer."""

    status: ConsoleStatus
    status_changed: Callbacks[[ConsoleStatus]]

    @property
    def name(self) -> str: ...
    def open(self) -> None: ...
    def close(self) -> None: ...


class ConsoleView(QWidget):
    title_changed = Signal()
    fullscreen_requested = Signal(bool)
    release_combo_chosen = Signal(str)
    detach_requested = Signal()

    def __init__(self, controller: Controller, session: ConsoleSession, parent: QWidget | None = None, *,
                 ask_save_path: Callable[[QWidget, str], str] | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.session = session
        self.fullscreen = False
        self.kiosk = False
        self._ask_save_path = ask_save_path or _ask_save_path
        self.display = ConsoleDisplay(session)
        self.display.setObjectName("console_display")
        self.scroll_area = QScrollArea()
        self.scroll_area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll_area.setWidget(self.display)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setStyleSheet("QScrollArea { background: #181818; border: none; }")
        self.toolbar = self._make_toolbar()
        self.password_bar = self._make_password_bar()
        self.hint = QLabel()
        self.hint.setObjectName("grab_hint")
        self.hint.setContentsMargins(6, 2, 6, 2)

        self._layout = layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.toolbar)
        layout.addWidget(self.password_bar)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(self.hint)

        self._overlay_timer = QTimer(self, singleShot=True, interval=OVERLAY_HIDE_MS)
        self._overlay_timer.timeout.connect(self._hide_overlay)
        self.display.installEventFilter(self)
        self.display.grab_changed.connect(lambda _g: self._update_hint())
        self.display.zoom_changed.connect(self._zoom_changed)
        controller.status_changed.connect(self._status_changed)
        self.set_release_combo(DEFAULT_RELEASE_COMBO)
        self.spice_tools = SpiceTools(self, session) if isinstance(session, AnySession) else None
        self._status_changed(controller.status)

    @property
    def title(self) -> str:
        return f"{self.controller.name} (view only)" if self.display.view_only else self.controller.name

    def set_view_only(self, on: bool) -> None:
        """Watch only ("shadow" a user's desktop): no input reaches the guest."""
        if on:
            self.display.set_grabbed(False)
        self.display.view_only = on
        self._update_hint()
        self.title_changed.emit()

    def close_console(self) -> None:
        self.controller.status_changed.disconnect(self._status_changed)
        if self.spice_tools is not None:
            self.spice_tools.detach()
        self.display.set_grabbed(False)
        self.display.detach()
        self.controller.close()

    # ---- building -------------------------------------------------------------------------------

    def _action(self, text: str, slot: Callable[[], object], name: str, shortcut: str = "") -> QAction:
        action = QAction(text, self)
        action.setObjectName(name)
        action.triggered.connect(lambda _checked=False: slot())
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        return action

    def _make_toolbar(self) -> QToolBar:
        bar = QToolBar("Console")
        bar.setObjectName("console_toolbar")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.send_key_menu = QMenu("Send key", self)
        self.send_key_menu.setObjectName("send_key_menu")
        for label, combo in keymap.SEND_KEY_COMBOS:
            act = self.send_key_menu.addAction(label)
            act.setData(combo)
            act.triggered.connect(lambda _c=False, c=combo: self.display.send_combo(c))
        self.send_key_menu.addSeparator()
        self.release_menu = self.send_key_menu.addMenu("Release the keyboard with")
        self.release_menu.setObjectName("release_menu")
        group = QActionGroup(self)
        for combo, label in RELEASE_COMBOS.items():
            act = self.release_menu.addAction(label)
            act.setCheckable(True)
            act.setData(combo)
            act.setObjectName(f"release_{combo}")
            group.addAction(act)
            act.triggered.connect(lambda _c=False, c=combo: self.release_combo_chosen.emit(c))
        send = QToolButton()
        send.setText("Keys")
        send.setToolTip("Send key combinations the desktop would take, and choose how to release the keyboard")
        send.setMenu(self.send_key_menu)
        send.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        bar.addWidget(send)
        bar.addSeparator()
        self.fit_action = self._action("Fit", self.display.set_fit, "fit_action")
        self.fit_action.setCheckable(True)
        self.fit_action.setChecked(True)
        self.actual_action = self._action("1:1", lambda: self.display.set_zoom(1.0), "actual_size_action", "Ctrl+0")
        self.zoom_out_action = self._action("-", self.display.zoom_out, "zoom_out_action", "Ctrl+-")
        self.zoom_in_action = self._action("+", self.display.zoom_in, "zoom_in_action", "Ctrl++")
        for action in (self.fit_action, self.actual_action, self.zoom_out_action):
            bar.addAction(action)
        self.zoom_label = QLabel("100 %")
        self.zoom_label.setObjectName("zoom_label")
        self.zoom_label.setMinimumWidth(48)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        bar.addWidget(self.zoom_label)
        bar.addAction(self.zoom_in_action)
        bar.addSeparator()
        self.fullscreen_action = self._action("Full screen", self.toggle_fullscreen, "fullscreen_action", "F11")
        self.fullscreen_action.setCheckable(True)
        self.screenshot_action = self._action("Screenshot…", self.save_screenshot_dialog, "screenshot_action")
        self.type_clipboard_action = self._action("Type clipboard", self.type_clipboard, "type_clipboard_action")
        self.type_clipboard_action.setToolTip("Type the clipboard's text into the guest as key presses")
        self.reconnect_action = self._action("Reconnect", self.controller.open, "reconnect_action")
        self.detach_action = self._action("Detach", self.detach_requested.emit, "detach_action")
        for action in (self.fullscreen_action, self.screenshot_action, self.type_clipboard_action,
                       self.reconnect_action, self.detach_action):
            bar.addAction(action)
        return bar

    def _make_password_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("password_bar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 8, 4)
        self.password_label = QLabel("This console needs a password:")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("console_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.returnPressed.connect(self._send_password)
        button = QPushButton("Connect")
        button.clicked.connect(self._send_password)
        row.addWidget(self.password_label)
        row.addWidget(self.password_edit, 1)
        row.addWidget(button)
        bar.hide()
        return bar

    # ---- actions --------------------------------------------------------------------------------

    def set_kiosk(self, exit_combo: str) -> None:
        """Full screen, no toolbar at all, the keyboard grabbed for good; `exit_combo` is the only way out."""
        self.kiosk = True
        self.set_fullscreen(True)
        self._overlay_timer.stop()
        self.toolbar.hide()
        self.display.set_exit_combo(exit_combo)
        self.display.set_grabbed(True)

    def set_release_combo(self, combo: str) -> None:
        self.display.set_release_combo(combo, RELEASE_COMBOS[combo])
        for act in self.release_menu.actions():
            act.setChecked(act.data() == combo)
        self._update_hint()

    def toggle_fullscreen(self) -> None:
        self.set_fullscreen(not self.fullscreen)

    def set_fullscreen(self, on: bool) -> None:
        if on == self.fullscreen or (self.kiosk and not on):
            return
        self.fullscreen = on
        self.fullscreen_action.setChecked(on)
        layout = self._layout
        if on:  # the toolbar floats over the top edge and hides itself
            layout.removeWidget(self.toolbar)
            self.toolbar.setParent(self)
            self.hint.hide()
            self._show_overlay()
        else:
            self._overlay_timer.stop()
            self.toolbar.setParent(None)
            layout.insertWidget(0, self.toolbar)
            self.toolbar.show()
            self.hint.show()
        self.fullscreen_requested.emit(on)

    def _show_overlay(self) -> None:
        self.toolbar.adjustSize()
        self.toolbar.setGeometry(0, 0, self.width(), self.toolbar.sizeHint().height())
        self.toolbar.show()
        self.toolbar.raise_()
        self._overlay_timer.start()

    def _hide_overlay(self) -> None:
        if self.fullscreen and not self.toolbar.underMouse():
            self.toolbar.hide()
        elif self.fullscreen:
            self._overlay_timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.fullscreen and not self.kiosk and watched is self.display and event.type() == QEvent.Type.MouseMove:
            assert isinstance(event, QMouseEvent)
            if event.position().y() < 4 and not self.toolbar.isVisible():
                self._show_overlay()
        return False

    def save_screenshot(self, path: str) -> bool:
        image = self.display.image()
        return image is not None and image.copy().save(path, "PNG")  # type: ignore[call-overload]  # Qt takes a str

    def save_screenshot_dialog(self) -> None:
        path = self._ask_save_path(self, f"{self.title}.png")
        if path and not self.save_screenshot(path):
            self.hint.setText(f"Could not save the screenshot to {path}.")

    def type_clipboard(self) -> None:
        text = QGuiApplication.clipboard().text()
        if not text:
            self.hint.setText("The clipboard holds no text to type.")
            return
        skipped = self.display.type_text(text)
        if skipped:
            self.hint.setText(f"Typed the clipboard; these characters have no key on a US keyboard: {skipped[:20]}")

    def _send_password(self) -> None:
        self.session.set_password(self.password_edit.text())
        self.password_edit.clear()

    # ---- state ----------------------------------------------------------------------------------

    def _status_changed(self, status: ConsoleStatus) -> None:
        auth = status.state is ConsoleState.AUTH_NEEDED
        self.password_bar.setVisible(auth)
        if auth:
            self.password_label.setText(f"{status.message[:1].upper()}{status.message[1:]}. Password:")
            self.password_edit.setFocus()
        elif status.state is ConsoleState.CONNECTED:
            self.display.setFocus()
        self.display.update()
        self._update_hint()
        self.title_changed.emit()

    def _update_hint(self) -> None:
        status = self.controller.status
        if status.state is not ConsoleState.CONNECTED:
            self.hint.setText(status.text())
        elif self.display.view_only:
            self.hint.setText("View only: you watch this screen; your keyboard and mouse do not reach the guest.")
        elif self.display.grabbed:
            self.hint.setText(f"Keyboard grabbed: press {self.display.release_label} to release it.")
        else:
            self.hint.setText("Click in the console to send all keys to the guest.")

    def _zoom_changed(self) -> None:
        self.fit_action.setChecked(self.display.fit)
        self.scroll_area.setWidgetResizable(self.display.fit)
        if not self.display.fit:
            self.display.resize(self.display.sizeHint())
        self.zoom_label.setText(f"{self.display.effective_zoom() * 100:.0f} %")


def _ask_save_path(parent: QWidget, suggested: str) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Save screenshot", suggested, "PNG images (*.png)")
    return path
