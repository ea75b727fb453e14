"""SPICE password auth against a real QEMU SPICE server: in the URL, asked for, wrong."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.integration.qemu_spice import SpiceQemu, running_spice_qemu
from tests.ui.test_screenshot import vmgui
from vmgui.console.graphics import Endpoint
from vmgui.console.spice_session import SpiceSession
from vmgui.console.state import ConsoleState

PASSWORD = "s3cret-pw"


@pytest.fixture(scope="module")
def qemu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpiceQemu]:
    for server, _x509, _other_ca in running_spice_qemu(tmp_path_factory.mktemp("spice-password"), password=PASSWORD):
        yield server


def test_the_password_in_the_url_opens_the_console(qemu: SpiceQemu, tmp_path: Path) -> None:
    out = tmp_path / "ok.png"
    result = vmgui(tmp_path, f"spice://127.0.0.1:{qemu.port}?password={PASSWORD}", "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    assert out.exists()


@pytest.mark.parametrize("url", ["spice://127.0.0.1:{port}", "spice://127.0.0.1:{port}?password=wrong"])
def test_a_missing_or_wrong_password_says_so(qemu: SpiceQemu, tmp_path: Path, url: str) -> None:
    result = vmgui(tmp_path, url.format(port=qemu.port), "--screenshot", str(tmp_path / "x.png"))
    assert result.returncode == 1 and "Password needed" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_the_password_asked_for_connects(aloop: asyncio.AbstractEventLoop, qemu: SpiceQemu) -> None:
    session = SpiceSession(audio=False)
    session.open(Endpoint("tcp", host="127.0.0.1", port=qemu.port, protocol="spice"))
    wait_until(lambda: session.status.state is ConsoleState.AUTH_NEEDED, timeout=15, what="the password prompt")
    assert "password" in session.status.message
    session.set_password(PASSWORD)
    wait_until(lambda: session.status.state is ConsoleState.CONNECTED and session.frames > 0, timeout=15,
               what="connected with the password")
    session.close()
