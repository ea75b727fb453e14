"""What viewer mode opens: URLs, .vv files (deleted when they ask), standard input, disabled channels."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmgui.console.direct_console import open_source
from vmgui.console.vv_file import VvFileError

CA = "-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n"  # as in .vv files: \\n escapes


def test_a_spice_url() -> None:
    source = open_source("spice://10.0.0.5:5900?tls-port=5901&password=pw")
    e = source.endpoint
    assert (e.protocol, e.host, e.port, e.tls_port, e.password, e.kind) == ("spice", "10.0.0.5", 5900, 5901, "pw",
                                                                             "tcp")
    assert source.title == "10.0.0.5:5900" and source.vv is None


def test_a_vv_file_with_tls_settings_is_read_and_deleted(tmp_path: Path) -> None:
    path = tmp_path / "d.vv"
    path.write_text("[virt-viewer]\ntype=spice\nhost=h.example\ntls-port=61000\ntitle=VM 100\n"
                    f"ca={CA}\nhost-subject=CN=pve1\nproxy=http://10.0.0.1:3128\ndelete-this-file=1\n"
                    "disable-channels=playback;record\n")
    source = open_source(str(path))
    e = source.endpoint
    assert (e.host, e.port, e.tls_port, e.host_subject, e.proxy) == ("h.example", 0, 61000, "CN=pve1",
                                                                     "http://10.0.0.1:3128")
    assert e.ca.startswith("-----BEGIN CERTIFICATE-----\nMIIB\n") and not e.audio
    assert source.title == "VM 100" and not path.exists()


def test_a_vv_on_standard_input_keeps_sound_on() -> None:
    source = open_source("-", "[virt-viewer]\ntype=vnc\nhost=h\nport=5901\n")
    assert (source.endpoint.protocol, source.endpoint.port, source.endpoint.audio) == ("vnc", 5901, True)


def test_errors_are_value_errors_fit_for_the_user(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        open_source(str(tmp_path / "missing.vv"))
    bad = tmp_path / "bad.vv"
    bad.write_text("[virt-viewer]\ntype=rdp\n")
    with pytest.raises(VvFileError, match="line 2"):
        open_source(str(bad))
    assert bad.exists()  # a file that failed to parse is not deleted


def test_usb_and_secure_channel_settings_reach_the_endpoint() -> None:
    source = open_source("-", "[virt-viewer]\ntype=spice\nhost=h\nport=5900\nenable-usb-autoshare=1\n"
                              "usb-filter=0x03,-1,-1,-1,0|-1,-1,-1,-1,1\nsecure-channels=main;inputs\n")
    e = source.endpoint
    assert e.usb_autoshare and e.usb_filter == "0x03,-1,-1,-1,0|-1,-1,-1,-1,1"
    assert e.secure_channels == ("main", "inputs")
