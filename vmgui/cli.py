"""The command line: vmgui's options, parsed without touching Qt or libvirt."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from vmgui.core.uris import validate_uri


@dataclass(frozen=True)
class Options:
    connect: tuple[str, ...]
    screenshot: Path | None
    stats_interval: float | None
    debug: bool
    console: str | None = None


def _uri(text: str) -> str:
    error = validate_uri(text)
    if error:
        raise argparse.ArgumentTypeError(error)
    return text


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of seconds") from None
    if value < 0 or (0 < value < 0.5):
        raise argparse.ArgumentTypeError("the stats interval is 0 (off) or at least 0.5 seconds")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vmgui", description="Manage virtual machines on libvirt hosts.",
        epilog="With no --connect, vmgui opens the connections saved last time, or the local "
               "hypervisor (qemu:///system when its daemon answers, else qemu:///session).")
    p.add_argument("-c", "--connect", metavar="URI", action="append", type=_uri, default=[],
                   help="open this libvirt URI (repeatable), e.g. qemu:///system, "
                        "qemu+ssh://root@host/system, test:///default, test:///path/to/host.xml")
    p.add_argument("--console", metavar="GUEST",
                   help="open this guest's console (name or UUID) on the given connections")
    p.add_argument("--screenshot", metavar="FILE", type=Path,
                   help="render the main window once the guest lists are loaded, save it as PNG and exit; "
                        "with --console, save the guest's screen once its first frame arrives")
    p.add_argument("--stats-interval", metavar="SECONDS", type=_interval,
                   help="seconds between stats updates (default 3; 0 turns stats off)")
    p.add_argument("--debug", action="store_true", help="log debug messages to stderr")
    return p


def parse(argv: list[str]) -> Options:
    ns = parser().parse_args(argv)
    return Options(tuple(ns.connect), ns.screenshot, ns.stats_interval, ns.debug, ns.console)
