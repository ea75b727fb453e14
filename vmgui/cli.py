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
    target: str | None = None  # viewer mode: vnc:// or spice:// URL, a .vv file, or '-' (a .vv on stdin)
    full_screen: bool = False
    kiosk: bool = False
    kiosk_quit: str = "never"  # or "on-disconnect"
    desktops: bool = False  # the end-user portal instead of the main window
    user: str | None = None  # whose desktops the portal shows (default: the local account)


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
    portal = p.add_argument_group("virtual desktops")
    portal.add_argument("--desktops", action="store_true",
                        help="open only 'My desktops': the desktops assigned to you on the given connections "
                             "(with --kiosk: full screen, for thin clients)")
    portal.add_argument("--user", metavar="NAME",
                        help="with --desktops, show the desktops assigned to NAME (default: your account)")
    viewer = p.add_argument_group("viewer mode (as remote-viewer)")
    viewer.add_argument("target", nargs="?", metavar="URL|FILE.vv|-",
                        help="open only this console: vnc://host:port, spice://host:port?tls-port=N, "
                             "a virt-viewer .vv file, or - to read a .vv file from standard input")
    viewer.add_argument("-f", "--full-screen", action="store_true", help="open the console full screen")
    viewer.add_argument("-k", "--kiosk", action="store_true",
                        help="full screen with no toolbar and no way out but Ctrl+Alt+Shift+Q")
    viewer.add_argument("--kiosk-quit", choices=("never", "on-disconnect"), default="never",
                        help="in kiosk mode, quit when the console disconnects (default: never)")
    return p


def parse(argv: list[str]) -> Options:
    p = parser()
    ns = p.parse_args(argv)
    if ns.target is not None and (ns.connect or ns.console):
        p.error("a console address or .vv file opens only that console: leave out --connect and --console")
    if ns.kiosk_quit != "never" and not ns.kiosk:
        p.error("--kiosk-quit needs --kiosk")
    if ns.desktops and (ns.target is not None or ns.console):
        p.error("--desktops opens the portal: leave out the console address, .vv file and --console")
    if ns.user is not None and not ns.desktops:
        p.error("--user goes with --desktops")
    if ns.user is not None and not ns.user.strip():
        p.error("--user needs a name")
    return Options(tuple(ns.connect), ns.screenshot, ns.stats_interval, ns.debug, ns.console, ns.target,
                   ns.full_screen, ns.kiosk, ns.kiosk_quit, ns.desktops, ns.user.strip() if ns.user else None)
