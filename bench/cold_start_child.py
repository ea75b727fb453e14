"""Child of bench/scale.py: vmgui's window on test:///default, printing when it first painted and listed.

It starts as vmgui.ui.app.run does (the same imports, ssh's prompt socket, the desktop reset watch), with
settings of its own and milestones that the real start has no place for.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication

from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.ssh_runtime import install as install_ssh
from vmgui.core.vdi.reset_watch import ResetOnShutdown
from vmgui.ui.app import start_ssh_prompts  # and with it every module the real start imports
from vmgui.ui.asyncio_loop import create_loop
from vmgui.ui.gc_pauses import freeze_startup_objects
from vmgui.ui.main_window import MainWindow
from vmgui.ui.settings import Settings

URI = "test:///default"


class _Milestones(QObject):
    """Prints 'shown <time.time()>' after the window's first paint, then 'listed …' once the guest row is in."""

    def __init__(self, window: MainWindow, imported: float, done: Callable[[], None]) -> None:
        self.done = done
        super().__init__()
        self._window = window
        self._imported = imported
        self._shown = False
        window.installEventFilter(self)
        window.model.rowsInserted.connect(lambda *_: self._check_listed())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Paint and not self._shown:
            self._window.removeEventFilter(self)
            # The window paints first in a paint pass, its children right after: report once it is done.
            QTimer.singleShot(0, self._report_shown)
        return False

    def _report_shown(self) -> None:
        self._shown = True
        print(f"shown {time.time():.6f} imported {self._imported:.6f}", flush=True)
        self._check_listed()

    def _check_listed(self) -> None:
        model = self._window.model
        if self._shown and model.rowCount() > 0 and model.rowCount(model.index(0, 0)) > 0:
            print(f"listed {time.time():.6f}", flush=True)
            self.done()


def main() -> int:
    imported = time.time()
    settings_file = sys.argv[1]
    app = QApplication(sys.argv[:1])
    app.setApplicationName("vmgui")
    app.setOrganizationName("vmgui")
    ssh = install_ssh()
    loop = create_loop(app)
    settings = Settings(QSettings(settings_file, QSettings.Format.IniFormat))
    manager = ConnectionManager(stats_interval=settings.stats_interval())
    ResetOnShutdown(manager)
    window = MainWindow(manager, settings)
    start_ssh_prompts(ssh, window)
    conn = manager.add(URI)
    window.tasks.spawn(conn.connect())
    def done() -> None:  # skip the orderly shutdown (only the start is measured), but leave no ssh directory
        if ssh is not None:
            ssh.remove()
        os._exit(0)

    milestones = _Milestones(window, imported, done)
    window.show()
    freeze_startup_objects()  # as vmgui.ui.app.run does
    QTimer.singleShot(20_000, lambda: os._exit(3))  # never hang the parent
    loop.run_forever()
    del milestones
    return 0


if __name__ == "__main__":
    sys.exit(main())
