"""Reading and writing virt-viewer .vv files: real-world samples, every error with its line, round trips."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from vmgui.console.vv_file import ViewerFile, VvFileError, delete_if_asked, parse_vv, read_vv, write_vv

CA_LINES = [
    "-----BEGIN CERTIFICATE-----",
    "MIIFwzCCA6ugAwIBAgIUW3H0n6wz0QzO7mF0m3Qd6wVY3e4wDQYJKoZIhvcNAQEL",
    "BQAwdjEkMCIGA1UEAwwbUHJveG1veCBWaXJ0dWFsIEVudmlyb25tZW50MS4wLAYD",
    "VQQLDCVjNWQ4YjRkZS0xZjNhLTQ2YjItOTBlNi1hZjQ3ZTY1ZGQ0YzExHjAcBgNV",
    "-----END CERTIFICATE-----",
]
CA = "\n".join(CA_LINES) + "\n"
CA_ESCAPED = "\\n".join(CA_LINES) + "\\n"

# What Proxmox VE's web UI saves from /nodes/{node}/qemu/{vmid}/spiceproxy: TLS only, no plain port.
PROXMOX = f"""[virt-viewer]
secure-attention=Ctrl+Alt+Ins
release-cursor=Ctrl+Alt+R
toggle-fullscreen=Shift+F11
host=pvespiceproxy:65f1c0de:100:pve1::b3a0e5cfd2a37fb1f6c45fd8b8b3c1c04a3e2f17
delete-this-file=1
tls-port=61000
proxy=http://192.168.1.10:3128
type=spice
title=VM 100 - win10
password=d5f1e0b8c37a49a1b0c2
host-subject=OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1.example.com
ca={CA_ESCAPED}
"""

# oVirt's engine: port=-1 when every channel is secure, and an [ovirt] group for the REST API.
OVIRT = f"""[virt-viewer]
type=spice
host=192.168.122.50
port=-1
password=xRuAz0cEIk7n
# Password is valid for 120 seconds.
delete-this-file=1
fullscreen=0
title=win2019:%d
toggle-fullscreen=shift+f11
release-cursor=shift+f12
secure-attention=ctrl+alt+end
tls-port=5901
enable-smartcard=0
enable-usb-autoshare=1
usb-filter=-1,-1,-1,-1,1
tls-ciphers=DEFAULT
host-subject=O=example.com,CN=host1.example.com
ca={CA_ESCAPED}
secure-channels=main;inputs;cursor;playback;record;display;smartcard;usbredir
versions=rhev-win64:2.0-160;rhev-win32:2.0-160;rhel8:99.0-1;rhel7:2.0-6;rhel6:99.0-1
newer-version-url=http://www.ovirt.org/documentation/admin-guide/virt/console-client-resources

[ovirt]
host=engine.example.com:443
vm-guid=4f3b8b8e-2c4d-4e5f-9a6b-7c8d9e0f1a2b
sso-token=kVg1cG9yhT0y8Yj2Jm2nXl0Z5m3KqzA
admin=1
ca={CA_ESCAPED}
"""

# cockpit-machines' "Launch remote viewer" download.
COCKPIT = """[virt-viewer]
type=vnc
host=192.168.122.1
port=5901
delete-this-file=1
fullscreen=0
"""


# ---- real-world samples -----------------------------------------------------------------------------------


def test_a_proxmox_spiceproxy_file() -> None:
    assert parse_vv(PROXMOX) == ViewerFile(
        type="spice", host="pvespiceproxy:65f1c0de:100:pve1::b3a0e5cfd2a37fb1f6c45fd8b8b3c1c04a3e2f17",
        port=None, tls_port=61000, password="d5f1e0b8c37a49a1b0c2", title="VM 100 - win10",
        delete_this_file=True, proxy="http://192.168.1.10:3128", ca=CA,
        host_subject="OU=PVE Cluster Node,O=Proxmox Virtual Environment,CN=pve1.example.com",
        secure_attention="ctrl+alt+ins", toggle_fullscreen="shift+f11", release_cursor="ctrl+alt+r",
    )


def test_the_ca_becomes_pem_with_real_newlines() -> None:
    ca = parse_vv(PROXMOX).ca
    assert ca.startswith("-----BEGIN CERTIFICATE-----\nMIIF") and ca.endswith("-----END CERTIFICATE-----\n")
    assert "\\n" not in ca and ca.count("\n") == 5


def test_an_ovirt_file_with_port_minus_one_and_an_ovirt_group() -> None:
    assert parse_vv(OVIRT) == ViewerFile(
        type="spice", host="192.168.122.50", port=None, tls_port=5901, password="xRuAz0cEIk7n",
        delete_this_file=True, fullscreen=False, title="win2019:%d", toggle_fullscreen="shift+f11",
        release_cursor="shift+f12", secure_attention="ctrl+alt+end", enable_smartcard=False,
        enable_usb_autoshare=True, usb_filter="-1,-1,-1,-1,1", tls_ciphers="DEFAULT",
        host_subject="O=example.com,CN=host1.example.com", ca=CA,
        secure_channels=("main", "inputs", "cursor", "playback", "record", "display", "smartcard", "usbredir"),
        versions="rhev-win64:2.0-160;rhev-win32:2.0-160;rhel8:99.0-1;rhel7:2.0-6;rhel6:99.0-1",
        newer_version_url="http://www.ovirt.org/documentation/admin-guide/virt/console-client-resources",
    )


def test_a_cockpit_vnc_file() -> None:
    assert parse_vv(COCKPIT) == ViewerFile(type="vnc", host="192.168.122.1", port=5901, delete_this_file=True)


def test_a_leading_bom_and_crlf_line_ends() -> None:
    assert parse_vv("\ufeff" + COCKPIT.replace("\n", "\r\n")) == parse_vv(COCKPIT)


# ---- syntax and values ------------------------------------------------------------------------------------


def test_comments_blank_lines_and_spaces_around_the_equals_sign() -> None:
    text = "# made by hand\n; another comment\n\n  [ virt-viewer ]  \n  type = vnc \n\thost=  h\nport =5900\n"
    assert parse_vv(text) == ViewerFile(type="vnc", host="h", port=5900)


def test_the_type_is_case_insensitive() -> None:
    assert parse_vv("[virt-viewer]\ntype=SPICE\nhost=h\nport=5900\n").type == "spice"


@pytest.mark.parametrize(("raw", "value"), [
    ("1", True), ("0", False), ("true", True), ("False", False), ("YES", True), ("no", False), ("TRUE", True),
])
def test_booleans(raw: str, value: bool) -> None:
    text = f"[virt-viewer]\ntype=vnc\nhost=h\nport=1\nfullscreen={raw}\nenable-usbredir={raw}\n"
    v = parse_vv(text)
    assert v.fullscreen is value and v.enable_usbredir is value


def test_all_hotkeys_are_kept_as_written_but_lower_cased() -> None:
    keys = ["release-cursor", "toggle-fullscreen", "secure-attention", "zoom-in", "zoom-out",
            "smartcard-insert", "smartcard-remove"]
    text = "[virt-viewer]\ntype=spice\nhost=h\nport=1\n" + "".join(f"{k}=Ctrl+Alt+F{i}\n" for i, k in enumerate(keys))
    v = parse_vv(text)
    assert [getattr(v, k.replace("-", "_")) for k in keys] == [f"ctrl+alt+f{i}" for i in range(len(keys))]


def test_lists_usb_and_smartcard_and_color_depth() -> None:
    text = ("[virt-viewer]\ntype=spice\nhost=h\nport=5900\nsecure-channels=main; inputs;\n"
            "disable-channels=usbredir;smartcard\ndisable-effects=wallpaper;font-smooth;animation;all\n"
            "color-depth=16\nenable-usbredir=1\nenable-smartcard=yes\nusername=alice\n")
    v = parse_vv(text)
    assert v.secure_channels == ("main", "inputs")
    assert v.disable_channels == ("usbredir", "smartcard")
    assert v.disable_effects == ("wallpaper", "font-smooth", "animation", "all")
    assert (v.color_depth, v.enable_usbredir, v.enable_smartcard, v.username) == (16, True, True, "alice")


def test_string_escapes_as_gkeyfile_writes_them() -> None:
    text = "[virt-viewer]\ntype=vnc\nhost=h\nport=1\npassword=\\sa\\\\b\\tc\\sd\\s\ntitle=C:\\Users\\x\n"
    v = parse_vv(text)
    assert v.password == " a\\b\tc d "
    assert v.title == "C:\\Users\\x"  # a backslash before anything else stays


def test_version_keys_stay_raw() -> None:
    text = "[virt-viewer]\ntype=spice\nhost=h\nport=1\nversion=7.0\nversions=rhel7:2.0-6\n"
    v = parse_vv(text)
    assert (v.version, v.versions, v.unknown) == ("7.0", "rhel7:2.0-6", {})


def test_unknown_keys_are_kept_and_logged_once_each(caplog: pytest.LogCaptureFixture) -> None:
    text = "[virt-viewer]\ntype=spice\nhost=h\nport=1\nfoo=bar\nxyz = a\\nb \n[other]\nbaz=1\n"
    with caplog.at_level(logging.INFO, logger="vmgui.console.vv_file"):
        v = parse_vv(text)
    assert v.unknown == {"foo": "bar", "xyz": "a\\nb"}
    lines = [r.getMessage() for r in caplog.records if r.name == "vmgui.console.vv_file"]
    assert len(lines) == 2 and "'foo'" in lines[0] and "line 5" in lines[0] and "'xyz'" in lines[1]


def test_other_groups_are_ignored_even_with_their_own_duplicates() -> None:
    text = "[ovirt]\nhost=a\nhost=b\n[virt-viewer]\ntype=vnc\nhost=h\nport=1\n[AdditionalParameters]\nport=2\n"
    assert parse_vv(text) == ViewerFile(type="vnc", host="h", port=1)


@pytest.mark.parametrize("proxy", ["http://proxy:3128", "HTTP://proxy.example.com", "http://[fd00::1]:3128"])
def test_good_proxies(proxy: str) -> None:
    assert parse_vv(f"[virt-viewer]\ntype=spice\nhost=h\ntls-port=1\nproxy={proxy}\n").proxy == proxy


def test_a_viewer_file_is_hashable() -> None:
    assert hash(parse_vv(OVIRT)) == hash(parse_vv(OVIRT))


# ---- errors -----------------------------------------------------------------------------------------------

HEAD = "[virt-viewer]\ntype=spice\nhost=h\n"  # lines 1-3


@pytest.mark.parametrize(("text", "line", "problem"), [
    ("", 1, "without a [virt-viewer] group"),
    ("# only a comment\n[ovirt]\nhost=e\n", 3, "without a [virt-viewer] group"),
    ("type=vnc\n[virt-viewer]\n", 1, "before any group"),
    (HEAD + "this is not a setting\nport=1\n", 4, "'this is not a setting' is not key=value"),
    ("[virt-viewer\ntype=vnc\n", 1, "is not key=value"),
    (HEAD + "=5900\n", 4, "is not key=value"),
    ("[ovirt]\ngarbage\n[virt-viewer]\ntype=vnc\nport=1\n", 2, "is not key=value"),
    ("# c\n[virt-viewer]\nhost=h\nport=5900\n", 2, "has no type"),
    ("[virt-viewer]\ntype=ovirt\nhost=h\n", 2, "type 'ovirt' (an oVirt engine connection) is not supported"),
    ("[virt-viewer]\nhost=h\ntype=rdp\nport=3389\n", 3, "unknown type 'rdp'"),
    (HEAD + "port=0\n", 4, "port 0 is not in 1..65535"),
    (HEAD + "port=70000\n", 4, "port 70000 is not in 1..65535"),
    (HEAD + "port=59o0\n", 4, "port '59o0' is not a number"),
    (HEAD + "tls-port=-2\n", 4, "tls-port -2 is not in 1..65535"),
    (HEAD + "title=x\n", 1, "neither port nor tls-port"),
    (HEAD + "port=-1\n", 4, "neither port nor tls-port"),
    ("[virt-viewer]\ntype=vnc\nhost=h\ntls-port=5901\n", 2, "a vnc file needs a port"),
    (HEAD + "port=1\nfullscreen=maybe\n", 5, "fullscreen 'maybe' is not a boolean"),
    (HEAD + "port=1\ndelete-this-file=2\n", 5, "delete-this-file '2' is not a boolean"),
    (HEAD + "port=1\nproxy=socks5://p:1080\n", 5, "proxy 'socks5://p:1080' is not an http:// address"),
    (HEAD + "port=1\nproxy=http://\n", 5, "proxy 'http://' has no host"),
    (HEAD + "port=1\nproxy=http://p:99999\n", 5, "proxy 'http://p:99999' is not a valid address"),
    (HEAD + "port=1\nproxy=proxy:3128\n", 5, "is not an http:// address"),
    (HEAD + "port=1\ncolor-depth=deep\n", 5, "color-depth 'deep' is not a number"),
    (HEAD + "port=1\nhost=g\n", 5, "duplicate key 'host' (first on line 3)"),
    (HEAD + "port=1\n[ovirt]\nx=1\n[virt-viewer]\nport=2\n", 8, "duplicate key 'port' (first on line 4)"),
])
def test_errors_name_the_line_and_the_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(VvFileError) as caught:
        parse_vv(text)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert problem in str(caught.value)
    assert isinstance(caught.value, ValueError)


# ---- writing and round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("sample", [PROXMOX, OVIRT, COCKPIT], ids=["proxmox", "ovirt", "cockpit"])
def test_samples_round_trip(sample: str) -> None:
    v = parse_vv(sample)
    assert parse_vv(write_vv(v)) == v


HAND_MADE = [
    ViewerFile(type="vnc", host="h", port=5900),
    ViewerFile(type="spice", host="::1", tls_port=5901),
    ViewerFile(type="spice", host="h", port=5900, tls_port=5901, color_depth=0),
    ViewerFile(
        type="spice", host="spice.example.com", port=1, tls_port=65535, password=" pass\\word\t; #x ",
        username="bob", title="Grüße = [x]", fullscreen=True, delete_this_file=True, ca=CA, host_subject="CN=a,O=b",
        proxy="http://proxy:3128", release_cursor="shift+f12", toggle_fullscreen="shift+f11",
        secure_attention="ctrl+alt+end", zoom_in="ctrl+plus", zoom_out="ctrl+minus", smartcard_insert="shift+f8",
        smartcard_remove="shift+f9", enable_usbredir=True, enable_usb_autoshare=True,
        usb_filter="0x03,-1,-1,-1,0|-1,-1,-1,-1,1", enable_smartcard=True, secure_channels=("main", "a;b", "c\\"),
        disable_channels=("usbredir",), color_depth=24, disable_effects=("wallpaper", "all"),
        tls_ciphers="HIGH:!aNULL", version="7.0", versions="rhel7:2.0-6", newer_version_url="https://x/y",
        unknown={"foo": "bar", "x-custom": "a\\nb"},
    ),
    ViewerFile(type="vnc", host="h", port=1, password="   ", title="\n\r\\s"),
]


def test_hand_made_files_round_trip() -> None:
    for v in HAND_MADE:
        text = write_vv(v)
        assert parse_vv(text) == v, text


def test_what_write_vv_writes() -> None:
    text = write_vv(ViewerFile(type="spice", host="h", tls_port=61000, ca=CA, fullscreen=False, enable_usbredir=True))
    assert text == f"[virt-viewer]\ntype=spice\nhost=h\ntls-port=61000\nca={CA_ESCAPED}\nenable-usbredir=1\n"


def test_write_escapes_leading_and_trailing_spaces() -> None:
    assert "password=\\s\\sa b\\s\n" in write_vv(replace(HAND_MADE[0], password="  a b "))


# ---- files ------------------------------------------------------------------------------------------------


def test_read_vv_reads_without_deleting(tmp_path: Path) -> None:
    path = tmp_path / "console.vv"
    path.write_text(PROXMOX)
    assert read_vv(path) == parse_vv(PROXMOX)
    assert path.exists()


def test_read_vv_errors_name_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.vv"
    path.write_bytes(b"[virt-viewer]\r\ntype=vnc\r\nport=1\r\nfullscreen=sometimes\r\n")
    with pytest.raises(VvFileError, match=r"bad\.vv: line 4: fullscreen 'sometimes' is not a boolean") as caught:
        read_vv(path)
    assert caught.value.line == 4


def test_read_vv_rejects_what_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.vv"
    path.write_bytes("[virt-viewer]\ntype=vnc\nport=1\ntitle=Grüße\n".encode("latin-1"))
    with pytest.raises(VvFileError, match=r"latin1\.vv: not UTF-8 text"):
        read_vv(path)


def test_read_vv_of_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_vv(tmp_path / "gone.vv")


def test_delete_if_asked_deletes_when_the_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "console.vv"
    path.write_text(COCKPIT)
    assert delete_if_asked(path, read_vv(path)) is True
    assert not path.exists()


def test_delete_if_asked_keeps_the_file_otherwise(tmp_path: Path) -> None:
    path = tmp_path / "console.vv"
    path.write_text(COCKPIT.replace("delete-this-file=1", "delete-this-file=0"))
    v = read_vv(path)
    assert v.delete_this_file is False
    assert delete_if_asked(path, v) is False
    assert path.exists()


def test_delete_if_asked_ignores_a_missing_file(tmp_path: Path) -> None:
    assert delete_if_asked(tmp_path / "already-gone.vv", parse_vv(COCKPIT)) is False
