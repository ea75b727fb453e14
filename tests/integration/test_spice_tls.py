"""vmgui's SPICE client does TLS as .vv files describe it (tls-port, ca, host-subject), end to end.

The server is a bare QEMU started here, not through libvirt (whose qemu.conf would have to change), with
a throwaway CA. vmgui runs as the real command in viewer mode with --screenshot.

Measured with spice-glib 0.42: an untrusted certificate (wrong CA, or no CA at all) and a host-subject
that does not match both end in the main channel's ERROR_TLS with no GError (channel.get_error() is
None); the detail only goes to spice-glib's log ('Error in certificate chain verification: self-signed
certificate in certificate chain', "ssl: subject '…' verification failed", 'SSL_connect: error:…').
The host-subject is compared in the certificate's order ('O=…,CN=…' for -subj /O=…/CN=…): RFC 2253's
reversed order ('CN=…,O=…', as `openssl x509 -nameopt RFC2253` prints it) does not match.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import gi
import pytest
from PySide6.QtGui import QImage

from tests.integration.qemu_spice import (
    HOST_SUBJECT,
    SpiceQemu,
    cursor_pixels,
    differing_pixels,
    distinct_colours,
    running_spice_qemu,
)
from tests.ui.test_screenshot import vmgui
from vmgui.console.vv_file import ViewerFile, write_vv

pytestmark = pytest.mark.integration


class Server:
    def __init__(self, qemu: SpiceQemu, ca: str, other_ca: str) -> None:
        self.qemu = qemu
        self.ca = ca
        self.other_ca = other_ca


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for qemu, x509, other_ca in running_spice_qemu(tmp_path_factory.mktemp("spice-tls"), still=True):
        yield Server(qemu, (x509 / "ca-cert.pem").read_text(), other_ca.read_text())


def vv_file(tmp_path: Path, server: Server, *, ca: str, subject: str) -> Path:
    path = tmp_path / "tls.vv"
    text = write_vv(ViewerFile(type="spice", host="127.0.0.1", tls_port=server.qemu.tls_port, ca=ca,
                               host_subject=subject, title="TLS test"))
    assert "ca=-----BEGIN CERTIFICATE-----\\n" in text  # one line, GKeyFile's \n escapes, as in virt-viewer's files
    path.write_text(text)
    return path


def assert_is_qemus_screen(server: Server, tmp_path: Path, out: Path) -> None:
    image = QImage(str(out))
    assert not image.isNull()
    assert distinct_colours(image) > 1, "the picture is blank"  # SeaBIOS: grey text on black
    dump = server.qemu.screendump(tmp_path / "qemu.ppm")
    assert image.size() == dump.size(), (image.size(), dump.size())  # 720x400: VGA text mode
    # The same screen; only the blinking text cursor may differ.
    assert differing_pixels(image, dump) < cursor_pixels(dump)


def assert_clean_failure(result: subprocess.CompletedProcess[str], out: Path) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    return result.stderr


@pytest.mark.parametrize("subject", [HOST_SUBJECT, "O=vmgui tests, CN=spice-test", ""],
                         ids=["host-subject", "host-subject-spaced", "no-subject-san-ip"])
def test_right_ca_and_subject_show_the_screen(server: Server, tmp_path: Path, subject: str) -> None:
    """Without a host-subject spice-glib checks the host name: the certificate's SAN IP:127.0.0.1 matches."""
    out = tmp_path / "tls.png"
    result = vmgui(tmp_path, str(vv_file(tmp_path, server, ca=server.ca, subject=subject)), "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    assert_is_qemus_screen(server, tmp_path, out)


def test_a_ca_that_did_not_sign_the_certificate_fails_with_a_message(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    result = vmgui(tmp_path, str(vv_file(tmp_path, server, ca=server.other_ca, subject=HOST_SUBJECT)),
                   "--screenshot", str(out))
    stderr = assert_clean_failure(result, out)
    assert ("vmgui: cannot show TLS test's console: Disconnected: the TLS connection failed: the server's "
            "certificate did not verify against the given CA certificate") in stderr


@pytest.mark.parametrize("subject", ["O=vmgui tests,CN=someone-else", "CN=spice-test,O=vmgui tests"],
                         ids=["other-cn", "rfc2253-order"])
def test_a_wrong_host_subject_fails_with_a_message(server: Server, tmp_path: Path, subject: str) -> None:
    out = tmp_path / "x.png"
    result = vmgui(tmp_path, str(vv_file(tmp_path, server, ca=server.ca, subject=subject)), "--screenshot", str(out))
    stderr = assert_clean_failure(result, out)
    assert f"the TLS connection failed: the server's certificate did not verify against the given CA " \
           f"certificate and the host subject {subject!r}" in stderr


@pytest.mark.parametrize("url", ["spice://127.0.0.1?tls-port={port}", "spice+tls://127.0.0.1:{port}"])
def test_a_tls_url_without_a_ca_fails_cleanly(server: Server, tmp_path: Path, url: str) -> None:
    """The system's trust store does not know the throwaway CA."""
    out = tmp_path / "x.png"
    result = vmgui(tmp_path, url.format(port=server.qemu.tls_port), "--screenshot", str(out))
    stderr = assert_clean_failure(result, out)
    assert ("the TLS connection failed: the server's certificate did not verify against the CAs this system "
            "trusts (no CA given) and the host name '127.0.0.1'") in stderr


def test_the_plain_port_of_the_same_server_works(server: Server, tmp_path: Path) -> None:
    """Control: the server and the picture are fine without TLS."""
    out = tmp_path / "plain.png"
    result = vmgui(tmp_path, f"spice://127.0.0.1:{server.qemu.port}", "--screenshot", str(out))
    assert result.returncode == 0, result.stderr
    assert_is_qemus_screen(server, tmp_path, out)


def test_the_ca_reaches_spice_glib_as_a_byte_array() -> None:
    """PyGObject's `props.ca = …` stored the bytes' buffer as the GByteArray (a crash in TLS); set_ca does not."""
    gi.require_version("SpiceClientGLib", "2.0")
    from gi.repository import SpiceClientGLib as Spice

    from vmgui.console.spice_session import set_ca

    session = Spice.Session()
    pem = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    set_ca(session, pem)
    assert session.props.ca == pem
    set_ca(session, b"x")
    assert session.props.ca == b"x"
