"""Starts the application: Qt, the event loop, the connections and the main window; --screenshot mode."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

from PySide6.QtWidgets import QApplication, QWidget

from vmgui.cli import Options
from vmgui.core.connection import Connection, ConnectionState
from vmgui.core.connection_manager import ConnectionManager
from vmgui.core.local_host import default_local_uri
from vmgui.core.ssh_runtime import SshRuntime
from vmgui.core.ssh_runtime import install as install_ssh
from vmgui.core.vdi.reset_watch import ResetOnShutdown
from vmgui.ui.asyncio_loop import create_loop
from vmgui.ui.gc_pauses import freeze_startup_objects
from vmgui.ui.main_window import MainWindow
from vmgui.ui.settings import SavedConnection, Settings
from vmgui.ui.ssh_prompts import SshPromptServer
from vmgui.ui.tasks import TaskGroup

log = logging.getLogger("vmgui")
SCREENSHOT_TIMEOUT = 60.0


def _settled(conn: Connection) -> bool:
    """The first load is over: the guest list is read (and, with running guests and stats on, two stats
    ticks gave them rates), or the connection failed."""
    if conn.state is ConnectionState.CONNECTED:
        running = any(g.state.is_active for g in conn.guests.values())
        wants_stats = running and 0 < conn.stats_interval <= 5
        return conn.list_loaded and (not wants_stats or conn.stats_ticks >= 2)
    return conn.state is ConnectionState.DISCONNECTED and bool(conn.error)


async def _until_settled(manager: ConnectionManager) -> None:
    """Until every connection has its list or gave up, for at most SCREENSHOT_TIMEOUT."""
    deadline = time.monotonic() + SCREENSHOT_TIMEOUT
    while not all(_settled(c) for c in manager.connections) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def _screenshot(app: QApplication, window: MainWindow, manager: ConnectionManager, options: Options) -> None:
    assert options.screenshot is not None
    await _until_settled(manager)
    for conn in manager.connections:
        if conn.state is not ConnectionState.CONNECTED:
            print(f"vmgui: {conn.uri}: {conn.status_text}", file=sys.stderr)
    await asyncio.sleep(0.3)  # let the view lay out and paint the new rows
    window.tree.expandAll()
    path = options.screenshot
    if window.grab().save(str(path), "PNG"):
        print(f"vmgui: saved {path}")
        app.exit(0)
    else:
        print(f"vmgui: could not write the screenshot to {path}", file=sys.stderr)
        app.exit(1)


async def _console(app: QApplication, window: MainWindow, manager: ConnectionManager, options: Options) -> None:
    from vmgui.ui.console.named_console import open_named_console  # only with --console

    assert options.console is not None
    code = 1
    try:
        code = await open_named_console(manager, window.open_console, options.console, options.screenshot)
    finally:
        if options.screenshot is not None:
            app.exit(code)  # interactively, a console that did not open leaves the main window up


def _connections(options: Options, settings: Settings) -> list[SavedConnection]:
    if options.connect:
        return [SavedConnection(uri, True) for uri in options.connect]
    saved = settings.connections()
    if not saved:
        saved = [SavedConnection(default_local_uri(), True)]
        settings.set_connections(saved)
    return saved


def _run_viewer(app: QApplication, loop: asyncio.AbstractEventLoop, options: Options, settings: Settings) -> int:
    from vmgui.ui.viewer import Viewer, load_source  # viewer mode only

    source = load_source(options)
    if source is None:
        return 1
    viewer = Viewer(options, source, settings, app.exit)
    viewer.start()
    freeze_startup_objects()
    code = loop.run_forever()
    viewer.stop()
    return int(code or 0)


def start_ssh_prompts(ssh: SshRuntime | None, parent: QWidget) -> SshPromptServer | None:
    """ssh's questions (passwords, unknown host keys) asked in `parent`, before any connection opens."""
    if ssh is None:
        return None
    server = SshPromptServer(ssh.socket_path, ssh.token, lambda: parent if parent.isVisible() else None)
    server.start()
    return server


def _run_until_quit(loop: asyncio.AbstractEventLoop, tasks: TaskGroup, manager: ConnectionManager,
                    prompts: SshPromptServer | None, ssh: SshRuntime | None) -> int:
    """Run the loop of a window now shown until the app quits, then end its tasks and close what it opened."""
    freeze_startup_objects()
    code = loop.run_forever()
    tasks.cancel_all()
    _close(loop, manager, prompts, ssh)
    return int(code or 0)


def _close(loop: asyncio.AbstractEventLoop, manager: ConnectionManager, prompts: SshPromptServer | None,
           ssh: SshRuntime | None) -> None:
    try:
        loop.run_until_complete(asyncio.wait_for(manager.close_all(), timeout=5))
    except (TimeoutError, RuntimeError):
        log.warning("some connections did not close in time")
    if prompts is not None:
        loop.run_until_complete(prompts.close())
    if ssh is not None:
        ssh.remove()


def _run_portal(app: QApplication, loop: asyncio.AbstractEventLoop, manager: ConnectionManager, options: Options,
                settings: Settings, ssh: SshRuntime | None) -> int:
    from vmgui.ui.vdi.portal import PortalWindow

    portal = PortalWindow(manager, user=options.user, kiosk=options.kiosk, settings=settings)
    prompts = start_ssh_prompts(ssh, portal)
    for saved in _connections(options, settings):
        conn = manager.add(saved.uri)
        portal.tasks.spawn(conn.connect())  # the portal connects to every host it is given
    portal.show()
    if options.screenshot is not None:
        portal.tasks.spawn(_portal_screenshot(app, portal, manager, options))
    return _run_until_quit(loop, portal.tasks, manager, prompts, ssh)


async def _portal_screenshot(app: QApplication, portal: QWidget, manager: ConnectionManager,
                             options: Options) -> None:
    assert options.screenshot is not None
    await _until_settled(manager)
    await asyncio.sleep(1.5)  # the pools read, the tiles laid out, the first thumbnails in
    ok = portal.grab().save(str(options.screenshot), "PNG")
    print(f"vmgui: saved {options.screenshot}" if ok else f"vmgui: could not write {options.screenshot}",
          file=sys.stdout if ok else sys.stderr)
    app.exit(0 if ok else 1)


def run(options: Options) -> int:
    logging.basicConfig(level=logging.DEBUG if options.debug else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    app = QApplication(sys.argv[:1])
    app.setApplicationName("vmgui")
    app.setOrganizationName("vmgui")
    app.setDesktopFileName("vmgui")
    ssh = install_ssh() if options.target is None else None  # changes PATH: before worker threads start
    loop = create_loop(app)
    settings = Settings()
    if options.target is not None:
        return _run_viewer(app, loop, options, settings)
    interval = options.stats_interval if options.stats_interval is not None else settings.stats_interval()
    manager = ConnectionManager(stats_interval=interval)
    ResetOnShutdown(manager)  # desktops of "reset on shutdown" pools go back to their image when they stop
    if options.desktops:
        return _run_portal(app, loop, manager, options, settings, ssh)
    window = MainWindow(manager, settings)
    prompts = start_ssh_prompts(ssh, window)
    for saved in _connections(options, settings):
        conn = manager.add(saved.uri)
        if saved.autoconnect:
            window.tasks.spawn(conn.connect())
    window.show()
    if options.console is not None:
        window.tasks.spawn(_console(app, window, manager, options))
    elif options.screenshot is not None:
        window.tasks.spawn(_screenshot(app, window, manager, options))
    return _run_until_quit(loop, window.tasks, manager, prompts, ssh)
