"""Starting the main window: what its start-up must not import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Each costs start-up time and is only needed later: viewer mode, `--console`, resetting a desktop
# (cloning, guest creation and with them urllib, http and email): 300 ms together, measured.
LATER = ("vmgui.ui.viewer", "vmgui.ui.console.named_console", "vmgui.core.vdi.desktops", "vmgui.core.clone",
         "vmgui.core.guest_creator", "urllib.request")


def test_the_main_windows_start_imports_only_what_it_shows(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "vmgui", "--connect", "test:///default",
                             "--screenshot", str(tmp_path / "main.png")], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "vmgui.ui.app" in imported and "vmgui.core.vdi.reset_watch" in imported
    assert sorted(set(LATER) & imported) == []
