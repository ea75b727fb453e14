"""`vmgui URL|FILE.vv|-` (viewer mode) as a real command against a fake VNC server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PySide6.QtGui import QImage

from tests.console.fake_rfb import FakeRfbServer
from tests.ui.test_screenshot import vmgui

GREEN = (20, 160, 60)


def colour(path: Path, x: int, y: int) -> tuple[int, int, int]:
    c = QImage(str(path)).pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_a_vnc_url_opens_only_that_console(tmp_path: Path) -> None:
    with FakeRfbServer(200, 100) as srv:
        srv.fill(GREEN)
        out = tmp_path / "url.png"
        result = vmgui(tmp_path, f"vnc://127.0.0.1:{srv.port}", "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    assert QImage(str(out)).size().toTuple() == (200, 100) and colour(out, 50, 50) == GREEN


def test_a_vv_file_is_read_and_deleted_when_it_asks(tmp_path: Path) -> None:
    with FakeRfbServer(120, 80, auth="vnc", password="pw") as srv:
        srv.fill(GREEN)
        vv = tmp_path / "desk.vv"
        vv.write_text(f"[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport={srv.port}\npassword=pw\ntitle=Desk\n"
                      "delete-this-file=1\nenable-smartcard=1\nsome-new-key=1\n")
        out = tmp_path / "vv.png"
        result = vmgui(tmp_path, str(vv), "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    assert colour(out, 10, 10) == GREEN and not vv.exists()
    assert "smartcard redirection is not supported" in result.stderr


def test_a_vv_file_on_standard_input(tmp_path: Path) -> None:
    with FakeRfbServer(64, 48) as srv:
        srv.fill(GREEN)
        out = tmp_path / "stdin.png"
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
        result = subprocess.run([sys.executable, "-m", "vmgui", "-", "--screenshot", str(out)], env=env,
                                input=f"[virt-viewer]\ntype=vnc\nhost=127.0.0.1\nport={srv.port}\n",
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert colour(out, 5, 5) == GREEN


def test_a_broken_vv_file_is_reported_with_its_line(tmp_path: Path) -> None:
    vv = tmp_path / "bad.vv"
    vv.write_text("[virt-viewer]\ntype=vnc\nhost=h\nport=notaport\n")
    result = vmgui(tmp_path, str(vv), "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 1 and "line 4" in result.stderr and "Traceback" not in result.stderr


def test_wrong_password_and_unreachable_fail_with_a_message(tmp_path: Path) -> None:
    with FakeRfbServer(64, 48, auth="vnc", password="right") as srv:
        result = vmgui(tmp_path, f"vnc://127.0.0.1:{srv.port}", "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 1 and "Password needed" in result.stderr
    result = vmgui(tmp_path, f"vnc://127.0.0.1:{srv.port}", "--screenshot", str(tmp_path / "y.png"))
    assert result.returncode == 1 and "Connection refused" in result.stderr
    result = vmgui(tmp_path, "ftp://nowhere", "--screenshot", str(tmp_path / "z.png"))
    assert result.returncode == 1 and "is not a vnc:// or spice:// address" in result.stderr
