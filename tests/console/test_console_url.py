"""Console addresses as remote-viewer takes them, and the console a .vv file points at."""

from __future__ import annotations

import pytest

from vmgui.console.console_url import ConsoleTarget, parse_console_url, target_from_vv
from vmgui.console.vv_file import ViewerFile, parse_vv


@pytest.mark.parametrize(("url", "target"), [
    ("vnc://host:5901", ConsoleTarget("vnc", "host", 5901, None)),
    ("vnc://host", ConsoleTarget("vnc", "host", 5900, None)),
    ("vnc://host/", ConsoleTarget("vnc", "host", 5900, None)),
    ("vnc://host:", ConsoleTarget("vnc", "host", 5900, None)),
    ("vnc://host:0", ConsoleTarget("vnc", "host", 5900, None)),
    ("vnc://host:1", ConsoleTarget("vnc", "host", 5901, None)),
    ("vnc://host:99", ConsoleTarget("vnc", "host", 5999, None)),
    ("vnc://host:100", ConsoleTarget("vnc", "host", 100, None)),
    ("  VNC://192.168.122.1:5905  ", ConsoleTarget("vnc", "192.168.122.1", 5905, None)),
    ("vnc://[::1]:5902", ConsoleTarget("vnc", "::1", 5902, None)),
    ("vnc://[fe80::1%25eth0]", ConsoleTarget("vnc", "fe80::1%eth0", 5900, None)),
    ("vnc://my%2Dhost:2", ConsoleTarget("vnc", "my-host", 5902, None)),
    ("vnc://host:5900?password=s%20cret", ConsoleTarget("vnc", "host", 5900, None, "s cret")),
    ("spice://host:5900", ConsoleTarget("spice", "host", 5900, None)),
    ("spice://host:5900?tls-port=5901&password=X", ConsoleTarget("spice", "host", 5900, 5901, "X")),
    ("spice://host:5900/?tls-port=5901", ConsoleTarget("spice", "host", 5900, 5901)),
    ("spice://host?port=5900&tls-port=5901", ConsoleTarget("spice", "host", 5900, 5901)),
    ("spice://host?tls-port=5901", ConsoleTarget("spice", "host", None, 5901)),
    ("spice+tls://host:61000", ConsoleTarget("spice", "host", None, 61000)),
    ("spice+tls://host:61000?port=5900", ConsoleTarget("spice", "host", 5900, 61000)),
    ("spice://[2001:db8::5]:5930?password=a%2Bb+c%26d", ConsoleTarget("spice", "2001:db8::5", 5930, None, "a+b+c&d")),
    ("spice://:pw@host:5900", ConsoleTarget("spice", "host", 5900, None, "pw")),
    ("spice://host:5900?password=&unknown=1#frag", ConsoleTarget("spice", "host", 5900, None, "")),
])
def test_addresses(url: str, target: ConsoleTarget) -> None:
    assert parse_console_url(url) == target


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://x", "'ftp://x' is not a vnc:// or spice:// address"),
    ("host:5900", "'host:5900' is not a vnc:// or spice:// address"),
    ("", "'' is not a vnc:// or spice:// address"),
    ("rdp://host", "'rdp://host' is not a vnc:// or spice:// address"),
    ("vnc://host:70000", "port 70000 is out of range"),
    ("spice://host:70000", "port 70000 is out of range"),
    ("spice://host?tls-port=70000", "tls-port 70000 is out of range"),
    ("spice://host:0", "port 0 is out of range"),
    ("vnc://host:59x0", "port '59x0' is not a number"),
    ("spice://host?port=-1", "port '-1' is not a number"),
    ("vnc://:5900", "'vnc://:5900' has no host"),
    ("spice://?port=5900", "'spice://?port=5900' has no host"),
    ("vnc://[]:5900", "has no host"),
    ("spice://host", "'spice://host' has neither a port nor a tls-port"),
    ("spice://host:5900?port=5901", "gives the port twice"),
    ("spice+tls://host:5901?tls-port=5902", "gives the tls-port twice"),
    ("spice://host?port=1&port=2", "'port' is given twice"),
    ("vnc://::1", "put an IPv6 address in brackets"),
    ("vnc://[::1", "is not a valid [IPv6]:port"),
    ("vnc://[::1]5900", "is not a valid [IPv6]:port"),
])
def test_bad_addresses(url: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_console_url(url)
    assert message in str(caught.value)


def test_a_proxmox_file_target() -> None:
    v = parse_vv("[virt-viewer]\ntype=spice\nhost=pvespiceproxy:65f1c0de:100:pve1::b3a0\ntls-port=61000\n"
                 "password=pw\ntitle=VM 100 - win10\nproxy=http://192.168.1.10:3128\n")
    assert target_from_vv(v) == ConsoleTarget("spice", "pvespiceproxy:65f1c0de:100:pve1::b3a0", None, 61000, "pw",
                                              "VM 100 - win10")


def test_a_cockpit_file_target() -> None:
    v = parse_vv("[virt-viewer]\ntype=vnc\nhost=192.168.122.1\nport=5901\ndelete-this-file=1\nfullscreen=0\n")
    assert target_from_vv(v) == ConsoleTarget("vnc", "192.168.122.1", 5901, None, "", "")


def test_a_file_without_a_host_has_no_target() -> None:
    with pytest.raises(ValueError, match="no host"):
        target_from_vv(ViewerFile(type="vnc", port=5900))
