"""Watching a SPICE-only desktop: its screen once a second from the hypervisor, so its user keeps the session."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from vmgui.core.connection import Connection
from vmgui.ui.tasks import TaskGroup
from vmgui.ui.thumbnails import Thumbnails

REFRESH_MS = 1000
SIZE = QSize(1280, 1024)


class ScreenWatch(QWidget):
    """A SPICE display takes one viewer at a time: a second one would take the screen from the desktop's
    user. This window shows `virDomainScreenshot` pictures instead (view only, about one a second)."""

    def __init__(self, connection: Connection, uuid: str, name: str, parent: QWidget | None = None, *,
                 refresh_ms: int = REFRESH_MS) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("screen_watch")
        self.setWindowTitle(f"{name} (view only) — vmgui")
        self.connection = connection
        self.uuid = uuid
        self.tasks = TaskGroup()
        self.pictures = 0  # how many pictures were shown
        self.thumbnails = Thumbnails(self.tasks, SIZE, self)
        self.thumbnails.changed.connect(lambda _c, u: self._show() if u == uuid else None)
        self.screen_label = QLabel("Waiting for the first picture…")
        self.screen_label.setObjectName("watched_screen")
        self.screen_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.screen_label.setMinimumSize(320, 240)
        self.screen_label.setStyleSheet("background: #181818; color: #d0d0d0;")
        hint = QLabel(f"View only: {name}'s screen about once a second. Its display is SPICE, which takes one "
                      "viewer at a time, so its user keeps the session.")
        hint.setObjectName("watch_hint")
        hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 4)
        layout.addWidget(self.screen_label, 1)
        layout.addWidget(hint)
        self.resize(1060, 860)
        self._timer = QTimer(self, interval=refresh_ms)
        self._timer.timeout.connect(self.refresh)
        self._timer.start()
        self.refresh()

    def refresh(self) -> None:
        guest = self.connection.guests.get(self.uuid)
        if guest is None or not guest.state.is_active:
            self.screen_label.setPixmap(QPixmap())
            self.screen_label.setText("The desktop is not running.")
            return
        self.thumbnails.refresh([(self.connection, self.uuid)])

    def _show(self) -> None:
        image = self.thumbnails.image(self.connection, self.uuid)
        if image is None:
            return
        self.pictures += 1
        target = self.screen_label.size()
        self.screen_label.setPixmap(QPixmap.fromImage(image).scaled(
            target, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def closeEvent(self, event: QCloseEvent) -> None:
        self._timer.stop()
        self.tasks.cancel_all()
        super().closeEvent(event)
