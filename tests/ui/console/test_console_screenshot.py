"""`vmgui --console GUEST --screenshot FILE`: the real command saves the guest's screen, or says why it cannot."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QImage

from tests.console.console_host import write_host
from tests.console.fake_rfb import FakeRfbServer
from tests.ui.test_screenshot import vmgui


def pixel(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def test_console_screenshot_saves_the_guest_screen(tmp_path: Path) -> None:
    with FakeRfbServer(400, 300, name="desk") as srv:
        srv.fill((0, 90, 40))
        srv.fill_rect(10, 20, 30, 40, (250, 250, 0))
        out = tmp_path / "desk.png"
        result = vmgui(tmp_path, "--connect", write_host(tmp_path, srv.port), "--console", "desk",
                       "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (400, 300)
    assert pixel(image, 15, 25) == (250, 250, 0)
    assert pixel(image, 300, 200) == (0, 90, 40)


def test_unknown_guest_fails_with_a_message(tmp_path: Path) -> None:
    result = vmgui(tmp_path, "--connect", "test:///default", "--console", "nope", "--screenshot",
                   str(tmp_path / "x.png"))
    assert result.returncode == 1 and "no guest named 'nope' on test:///default" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_guest_that_is_off_fails_with_a_message(tmp_path: Path) -> None:
    with FakeRfbServer(64, 48) as srv:
        result = vmgui(tmp_path, "--connect", write_host(tmp_path, srv.port), "--console", "off",
                       "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 1 and "Guest not running" in result.stderr and "Traceback" not in result.stderr


def test_failed_authentication_fails_with_a_message(tmp_path: Path) -> None:
    with FakeRfbServer(64, 48, auth="vnc", password="right") as srv:
        result = vmgui(tmp_path, "--connect", write_host(tmp_path, srv.port), "--console", "desk",
                       "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 1 and "Password needed" in result.stderr


def test_guest_without_vnc_fails_with_the_reason(tmp_path: Path) -> None:
    with FakeRfbServer(64, 48) as srv:
        result = vmgui(tmp_path, "--connect", write_host(tmp_path, srv.port), "--console", "headless",
                       "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 1 and "no graphical display" in result.stderr
