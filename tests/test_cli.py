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
