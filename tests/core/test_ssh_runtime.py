"""vmgui's ssh wrapper: first on PATH while installed, with askpass and sharing options; all removed after."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from vmgui.core import ssh_runtime


def test_the_wrapper_sets_askpass_and_sharing_for_every_ssh_vmgui_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", os.environ["PATH"])  # restored after the test whatever happens
    runtime = ssh_runtime.install()
    assert runtime is not None
    try:
        assert stat.S_IMODE(runtime.directory.stat().st_mode) == 0o700
        assert shutil.which("ssh") == str(runtime.bin_dir / "ssh")  # what libvirt and the tunnels run
        # libvirt passes ssh only PATH, HOME, DISPLAY, SSH_ASKPASS... so the wrapper must bring the rest
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
        config = subprocess.run(["ssh", "-G", "-p", "2222", "bob@vm1.example.org"], env=env, capture_output=True,
                                text=True, check=True).stdout.splitlines()
        assert "controlmaster auto" in config
        assert f"controlpersist {ssh_runtime.CONTROL_PERSIST}" in config
        control = next(line for line in config if line.startswith("controlpath "))
        assert control.startswith(f"controlpath {runtime.directory}/cm-")
        wrapper = (runtime.bin_dir / "ssh").read_text()
        assert "SSH_ASKPASS_REQUIRE=force" in wrapper and f"SSH_ASKPASS={runtime.directory}/askpass" in wrapper
        askpass = (runtime.directory / "askpass").read_text()
        assert runtime.token in askpass and str(runtime.socket_path) in askpass
    finally:
        runtime.remove()
    assert not runtime.directory.exists()
    assert str(runtime.bin_dir) not in os.environ["PATH"]
