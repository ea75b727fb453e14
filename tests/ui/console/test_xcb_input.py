"""Real X11 input: vmgui's viewer on Xvfb (xcb platform), keys and clicks sent by xdotool, read by a fake server.

Offscreen tests cannot produce native scan codes; here X delivers them as a desktop would, so the
evdev-to-scancode path and the keyboard grab are tested for real.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.console.fake_rfb import FakeRfbServer


def qemu_keys(server: FakeRfbServer) -> list[tuple[bool, int]]:
    return [(e[1], e[3]) for e in server.events if e[0] == "qemu_key"]


def wait(condition: Callable[[], object], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _start_xvfb() -> tuple[subprocess.Popen[bytes], str] | None:
    """Xvfb on a free display number, answering; None when this attempt failed."""
    number = random.randrange(100, 900)
    if Path(f"/tmp/.X{number}-lock").exists():
        return None
    name = f":{number}"
    xvfb = subprocess.Popen(["Xvfb", name, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = dict(os.environ, DISPLAY=name)
    def answers() -> bool:
        return subprocess.run(["xdotool", "getdisplaygeometry"], env=env, capture_output=True).returncode == 0

    if wait(lambda: xvfb.poll() is not None or answers(), 10) and xvfb.poll() is None:
        return xvfb, name
    xvfb.kill()
    xvfb.wait()
    return None


@pytest.fixture
def display() -> Iterator[str]:
    for tool in ("Xvfb", "xdotool"):
        assert shutil.which(tool), f"{tool} is missing (packaging/debian-packages.txt)"
    started = None
    for _attempt in range(5):
        started = _start_xvfb()
        if started is not None:
            break
    assert started is not None, "Xvfb did not start on any of 5 display numbers"
    xvfb, name = started
    try:
        yield name
    finally:
        xvfb.terminate()
        xvfb.wait(5)


def test_keys_and_clicks_from_x_reach_the_guest_as_scancodes(display: str, tmp_path: Path) -> None:
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(tmp_path / "config"))

    def xdo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True)

    with FakeRfbServer(400, 300, name="xcb") as server:
        server.fill((30, 60, 90))
        app = subprocess.Popen([sys.executable, "-m", "vmgui", f"vnc://127.0.0.1:{server.port}"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            if not wait(lambda: xdo("search", "--onlyvisible", "--name", "vmgui").stdout.strip()):
                app.terminate()
                pytest.fail(f"no vmgui window on {display}: {app.communicate(timeout=10)[0]}")
            window = xdo("search", "--onlyvisible", "--name", "vmgui").stdout.split()[0]
            assert wait(lambda: any(e[0] == "update_request" for e in server.events)), "never connected"
            xdo("windowactivate", "--sync", window)
            # A click in the middle of the console grabs the keyboard and reaches the guest as a pointer event.
            geometry = xdo("getwindowgeometry", window).stdout
            assert "Geometry" in geometry
            xdo("mousemove", "--window", window, "200", "200")
            xdo("click", "1")
            assert wait(lambda: any(e[0] == "pointer" and e[1] == 1 for e in server.events)), "no click"
            server.clear_events()
            xdo("type", "--delay", "30", "ls")
            xdo("key", "Return", "shift+a")
            expected = [(True, 0x26), (False, 0x26), (True, 0x1F), (False, 0x1F), (True, 0x1C), (False, 0x1C),
                        (True, 0x2A), (True, 0x1E), (False, 0x2A), (False, 0x1E)]  # xdotool releases in press order
            assert wait(lambda: qemu_keys(server) == expected), f"keys: {qemu_keys(server)}"
            # Keys the desktop would take go to the guest while grabbed: Alt+Tab arrives as Alt, Tab.
            server.clear_events()
            xdo("key", "alt+Tab")
            assert wait(lambda: qemu_keys(server) == [(True, 0x38), (True, 0x0F), (False, 0x38), (False, 0x0F)]), \
                f"keys: {qemu_keys(server)}"
        finally:
            app.terminate()
            try:
                output, _ = app.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                app.kill()
                output, _ = app.communicate()
        assert "Traceback" not in output, output
