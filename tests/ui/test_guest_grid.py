"""The screens grid in the main window: tiles for every guest, thumbnails of running ones, filter, actions."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction

from tests.helpers import wait_until
from vmgui.core.domstate import GuestState
from vmgui.core.lifecycle import Action
from vmgui.ui.main_window import MainWindow


def tile_names(win: MainWindow) -> list[str]:
    model = win.grid.grid_model
    return [model.index(r).data() for r in range(model.rowCount())]


def test_screens_view_shows_tiles_and_thumbnails_of_running_guests(window: MainWindow) -> None:
    action = window.findChild(QAction, "view_screens")
    assert action is not None
    action.trigger()
    assert window.views.currentWidget() is window.grid and window.grid.isVisible()
    wait_until(lambda: len(tile_names(window)) == 9, what="tiles")
    assert tile_names(window) == sorted(tile_names(window), key=str.casefold)
    conn = window.manager.connections[0]
    running = [g for g in conn.guests.values() if g.state is GuestState.RUNNING]
    wait_until(lambda: all(window.thumbnails.image(conn, g.uuid) is not None for g in running), timeout=15,
               what="thumbnails of the running guests")
    image = window.thumbnails.image(conn, running[0].uuid)
    assert image is not None and 0 < image.width() <= 240 and 0 < image.height() <= 180
    off = next(g for g in conn.guests.values() if g.state is GuestState.SHUTOFF)
    assert window.thumbnails.image(conn, off.uuid) is None  # only running guests are photographed
    row = tile_names(window).index(off.name)
    tile = window.grid.grid_model.index(row).data(Qt.ItemDataRole.DecorationRole)
    assert not tile.isNull() and tile.width() == 240  # a placeholder with the state


def test_search_filters_the_tiles_and_selection_drives_the_actions(window: MainWindow) -> None:
    window.show_screens(True)
    window.search.setText("tag:vdi")
    wait_until(lambda: tile_names(window) == ["paused-desktop", "win11-template"], what="filtered tiles")
    model = window.grid.grid_model
    window.grid.selectionModel().select(model.index(1), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    assert [g.name for _c, g in window.selected_guests()] == ["win11-template"]
    assert window.guest_actions.actions[Action.START].isEnabled()
    assert not window.guest_actions.actions[Action.PAUSE].isEnabled()
    window.show_screens(False)
    assert window.views.currentWidget() is window.tree


def test_double_click_on_a_tile_opens_its_console(window: MainWindow) -> None:
    window.show_screens(True)
    wait_until(lambda: len(tile_names(window)) == 9, what="tiles")
    opened: list[str] = []
    window.grid.guest_activated.connect(lambda _conn, uuid: opened.append(uuid))
    index = window.grid.grid_model.index(tile_names(window).index("web-frontend"))
    window.grid.doubleClicked.emit(index)
    conn = window.manager.connections[0]
    assert opened == [next(g.uuid for g in conn.guests.values() if g.name == "web-frontend")]
    consoles = window.console_window()
    assert consoles.tabs.count() == 1 and consoles.tabs.tabText(0) == "web-frontend"
    consoles.close()
