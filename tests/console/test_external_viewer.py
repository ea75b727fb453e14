"""The .vv vmgui writes for an external viewer: from the test-driver guest's XML, private, self-deleting."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import libvirt
import pytest

from tests.console.console_host import UUIDS, write_host
from vmgui.console.external_viewer import launch, viewer_file, write_temporary
from vmgui.console.vv_file import read_vv
from vmgui.core.errors import VmguiError


@pytest.fixture
def host(tmp_path: Path) -> tuple[libvirt.virConnect, str]:
    uri = write_host(tmp_path, 5977)
    return libvirt.open(uri), uri


def test_viewer_file_for_a_running_vnc_guest(host: tuple[libvirt.virConnect, str]) -> None:
    conn, uri = host
    vv = viewer_file(conn, UUIDS["desk"], uri)
    assert (vv.type, vv.host, vv.port, vv.title, vv.delete_this_file) == ("vnc", "127.0.0.1", 5977, "desk", True)
    spice = viewer_file(conn, UUIDS["spice-only"], uri)
    assert (spice.type, spice.port) == ("spice", 5999)


@pytest.mark.parametrize(("name", "message"), [("off", "not running"), ("headless", "no VNC or SPICE display")])
def test_viewer_file_refuses_with_a_reason(host: tuple[libvirt.virConnect, str], name: str, message: str) -> None:
    conn, uri = host
    with pytest.raises(VmguiError, match=message):
        viewer_file(conn, UUIDS[name], uri)


def test_the_temporary_file_is_private_and_reads_back(host: tuple[libvirt.virConnect, str]) -> None:
    conn, uri = host
    vv = viewer_file(conn, UUIDS["desk"], uri)
    path = write_temporary(vv)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert read_vv(path) == vv
    finally:
        path.unlink()


def test_launch_without_a_viewer_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no remote-viewer anywhere
    path = tmp_path / "x.vv"
    path.write_text("[virt-viewer]\ntype=vnc\nhost=h\nport=5900\n")
    with pytest.raises(VmguiError, match="install remote-viewer"):
        launch(path)
    assert not path.exists()  # nobody would delete it otherwise


def test_launch_starts_the_viewer_on_the_file(tmp_path: Path) -> None:
    fake = tmp_path / "remote-viewer"
    seen = tmp_path / "seen"
    fake.write_text(f"#!/bin/sh\necho \"$1\" > {seen}\n")
    fake.chmod(0o755)
    path = tmp_path / "y.vv"
    path.write_text("[virt-viewer]\ntype=vnc\nhost=h\nport=5900\n")
    launch(path, str(fake))
    deadline = time.monotonic() + 5
    while not seen.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.read_text().strip() == str(path)
