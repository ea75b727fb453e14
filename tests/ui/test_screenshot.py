"""`vmgui --screenshot`: the real command renders the main window to a non-blank PNG and exits."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.conftest import DATA


def vmgui(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    return subprocess.run([sys.executable, "-m", "vmgui", *args], env=env, capture_output=True,
                          text=True, timeout=120)


def distinct_colours(image: QImage, step: int = 3) -> int:
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


def test_screenshot_of_test_host(tmp_path: Path) -> None:
    out = tmp_path / "main.png"
    result = vmgui(tmp_path, "--connect", f"test://{DATA / 'host.xml'}", "--stats-interval", "1",
                   "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert not image.isNull() and image.width() >= 600 and image.height() >= 400
    assert distinct_colours(image) > 20, "the window rendered blank"
    # The row of a running guest has the green 'running' icon: some clearly green pixels exist.
    greens = sum(1 for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)
                 if (lambda c: c.green() > 120 and c.red() < 100 and c.blue() < 100)(image.pixelColor(x, y)))
    assert greens > 5
    assert not (tmp_path / "config" / "vmgui" / "vmgui.conf").exists() or "test://" not in (
        tmp_path / "config" / "vmgui" / "vmgui.conf").read_text(), "--connect URIs are not saved"


def test_unreachable_connection_still_gives_a_screenshot_and_says_why(tmp_path: Path) -> None:
    out = tmp_path / "bad.png"
    result = vmgui(tmp_path, "--connect", "test:///no/such/host.xml", "--screenshot", str(out))
    assert result.returncode == 0 and out.exists()
    assert "test:///no/such/host.xml: Disconnected:" in result.stderr


def test_bad_uri_is_a_clear_usage_error(tmp_path: Path) -> None:
    result = vmgui(tmp_path, "--connect", "not a uri")
    assert result.returncode == 2 and "--connect" in result.stderr and "Traceback" not in result.stderr


def test_unwritable_screenshot_path_fails_with_message(tmp_path: Path) -> None:
    result = vmgui(tmp_path, "--connect", "test:///default", "--screenshot", "/nonexistent/dir/x.png")
    assert result.returncode == 1 and "could not write the screenshot" in result.stderr
