"""Command-line parsing: repeatable --connect, checked URIs and intervals."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmgui.cli import parse


def test_repeatable_connect_and_screenshot() -> None:
    opts = parse(["--connect", "test:///default", "-c", "qemu:///session", "--screenshot", "a.png"])
    assert opts.connect == ("test:///default", "qemu:///session") and opts.screenshot == Path("a.png")


def test_defaults() -> None:
    opts = parse([])
    assert opts.connect == () and opts.screenshot is None and opts.stats_interval is None


@pytest.mark.parametrize("value", ["-1", "0.1", "abc"])
def test_bad_interval(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(["--stats-interval", value])
    assert exc.value.code == 2 and "stats-interval" in capsys.readouterr().err


def test_viewer_mode_target_and_kiosk_options() -> None:
    opts = parse(["spice://h:5900?tls-port=5901", "--kiosk", "--kiosk-quit", "on-disconnect"])
    assert opts.target == "spice://h:5900?tls-port=5901" and opts.kiosk and opts.kiosk_quit == "on-disconnect"
    assert parse(["-"]).target == "-" and parse(["desk.vv", "-f"]).full_screen


@pytest.mark.parametrize("argv", [["vnc://h:1", "--connect", "test:///default"], ["x.vv", "--console", "a"],
                                  ["vnc://h:1", "--kiosk-quit", "on-disconnect"]])
def test_viewer_mode_conflicts_are_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and ("leave out --connect and --console" in err or "--kiosk-quit needs --kiosk" in err)


def test_the_portal_for_a_user_on_a_remote_host_in_kiosk_mode() -> None:
    opts = parse(["--desktops", "--user", " alice ", "--kiosk", "-c", "qemu+ssh://root@vdi.example/system"])
    assert opts.desktops and opts.user == "alice" and opts.kiosk
    assert opts.connect == ("qemu+ssh://root@vdi.example/system",)
    assert parse(["--desktops"]).user is None  # the local account's desktops


@pytest.mark.parametrize(("argv", "message"), [
    (["--desktops", "vnc://h:1"], "--desktops opens the portal"),
    (["--desktops", "--console", "a"], "--desktops opens the portal"),
    (["--user", "alice"], "--user goes with --desktops"),
    (["--desktops", "--user", " "], "--user needs a name"),
])
def test_portal_option_mistakes_are_usage_errors(argv: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        parse(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err
