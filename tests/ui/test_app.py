"""Starting the main window: what its start-up must not import."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import start_imports

# Each costs start-up time and is only needed later: viewer mode, `--console`, resetting a desktop
# (cloning, guest creation and with them urllib, http and email): 300 ms together, measured.
LATER = ("vmgui.ui.viewer", "vmgui.ui.console.named_console", "vmgui.core.vdi.desktops", "vmgui.core.clone",
         "vmgui.core.guest_creator", "urllib.request")


def test_the_main_windows_start_imports_only_what_it_shows(tmp_path: Path) -> None:
    imported = start_imports(tmp_path)
    assert "vmgui.ui.app" in imported and "vmgui.core.vdi.reset_watch" in imported
    assert sorted(set(LATER) & imported) == []
