"""VeNCrypt with X.509 TLS (QEMU's vnc_tls=1): vmgui's console connects when the CA is installed, and says why not.

gtk-vnc (1.3.1, measured with strace) looks for the CA at /etc/pki/CA/cacert.pem, then at
<home>/.pki/CA/cacert.pem, where <home> is the user's home directory from the password database
(getpwuid(getuid())->pw_dir), not $HOME; with neither it falls back to the system trust store. It then
checks the server certificate's name against the host it dialled: an IP address only against IP
subjectAltNames, a DNS name against DNS subjectAltNames (or the CN when there are none).

So each test runs vmgui in a subprocess inside a private mount namespace (`unshare -m`, or `-r -m`
when not root) in which /etc/passwd is a copy giving uid 0 the home tmp_path/home, and /etc/pki, if the
machine has one, is hidden. Nothing outside the namespace changes.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QImage

from tests.console.console_host import write_host
from tests.console.fake_rfb import VENCRYPT_X509NONE, VENCRYPT_X509VNC, Event, FakeRfbServer, vnc_auth_response

ROOT = Path(__file__).resolve().parents[2]
CA_HINT = "CA certificate expected at /etc/pki/CA/cacert.pem or ~/.pki/CA/cacert.pem"

# Run as `sh -c SCRIPT sh PASSWD EMPTY_DIR COMMAND...` inside the new mount namespace.
_NAMESPACE_SCRIPT = """set -e
passwd=$1; empty=$2; shift 2
mount --bind "$passwd" /etc/passwd
if [ -d /etc/pki ]; then mount --bind "$empty" /etc/pki; fi
exec "$@"
"""


# --- a throwaway PKI, made with the openssl command --------------------------------------------------


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def _make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}-cacert.pem", directory / f"{name}-cakey.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
             "-subj", f"/CN=vmgui test {name} CA", "-keyout", key, "-out", cert)
    return cert, key


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate it signed (SAN IP:127.0.0.1 and DNS:localhost), and an unrelated CA."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _make_ca(d, "good")
    other_cert, _ = _make_ca(d, "other")
    key, csr, cert = d / "server-key.pem", d / "server.csr", d / "server-cert.pem"
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-sha256", "-subj", "/CN=vmgui test server",
             "-keyout", key, "-out", csr)
    ext = d / "server.ext"
    ext.write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n"
                   "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n")
    _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-CAcreateserial", "-sha256",
             "-days", "2", "-extfile", ext, "-out", cert)
    return {"ca": ca_cert, "other_ca": other_cert, "cert": cert, "key": key}


# --- vmgui in a mount namespace where the user's home is a temporary directory -------------------------


def _unshare_args() -> list[str]:
    return ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]


@functools.cache
def _namespace_problem() -> str | None:
    """Why a private mount namespace with /etc/passwd replaced cannot be had here, or None."""
    if shutil.which("unshare") is None:
        return "the unshare command is missing"
    try:
        probe = subprocess.run([*_unshare_args(), "sh", "-c", "mount --bind /etc/passwd /etc/passwd"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return f"unshare failed: {e}"
    return None if probe.returncode == 0 else f"cannot bind-mount in a new mount namespace: {probe.stderr.strip()}"


def _home(tmp_path: Path, ca: Path | None) -> Path:
    """tmp_path/home, with the CA installed where gtk-vnc looks in a user's home (or none)."""
    home = tmp_path / "home"
    (home / ".pki" / "CA").mkdir(parents=True, exist_ok=True)
    if ca is not None:
        shutil.copyfile(ca, home / ".pki" / "CA" / "cacert.pem")
    return home


def _run_as_home(tmp_path: Path, home: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    """Run command with uid 0's home (as the password database says) and $HOME both being `home`."""
    problem = _namespace_problem()
    if problem is not None:
        pytest.skip(f"gtk-vnc takes the home directory from /etc/passwd, not $HOME; {problem}")
    passwd = tmp_path / "passwd"
    lines = Path("/etc/passwd").read_text().splitlines()
    fields = ["root", "x", "0", "0", "root", "/root", "/bin/sh"]
    rest = []
    for line in lines:
        f = line.split(":")
        if len(f) == 7 and f[2] == "0":
            fields = f
        else:
            rest.append(line)
    fields[5] = str(home)
    passwd.write_text("\n".join([":".join(fields), *rest]) + "\n")
    empty = tmp_path / "empty"
    empty.mkdir(exist_ok=True)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return subprocess.run([*_unshare_args(), "sh", "-c", _NAMESPACE_SCRIPT, "sh", str(passwd), str(empty), *command],
                          env=env, capture_output=True, text=True, timeout=120, cwd=ROOT)


def vmgui_at_home(tmp_path: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m vmgui ARGS` as tests.ui.test_screenshot.vmgui runs it, with the user's home being `home`."""
    return _run_as_home(tmp_path, home, [sys.executable, "-m", "vmgui", *args])


def _screenshot(tmp_path: Path, srv: FakeRfbServer, home: Path, host: str | None = None) -> tuple[
        subprocess.CompletedProcess[str], Path]:
    uri = write_host(tmp_path, srv.port)
    if host is not None:
        xml = Path(uri.removeprefix("test://"))
        xml.write_text(xml.read_text().replace("listen='127.0.0.1'", f"listen='{host}'"))
    out = tmp_path / "desk.png"
    return vmgui_at_home(tmp_path, home, "--connect", uri, "--console", "desk", "--screenshot", str(out)), out


def _pixel(image: QImage, x: int, y: int) -> tuple[int, int, int]:
    c = image.pixelColor(x, y)
    return c.red(), c.green(), c.blue()


def _assert_colours(out: Path) -> None:
    image = QImage(str(out))
    assert (image.width(), image.height()) == (200, 150)
    assert _pixel(image, 15, 25) == (250, 250, 0)
    assert _pixel(image, 150, 100) == (0, 90, 40)


def _server(pki: dict[str, Path], auth: str = "vencrypt-x509none", **kw: Any) -> FakeRfbServer:
    srv = FakeRfbServer(200, 150, name="desk", auth=auth, tls_cert=pki["cert"], tls_key=pki["key"], **kw)
    srv.fill((0, 90, 40))
    srv.fill_rect(10, 20, 30, 40, (250, 250, 0))
    return srv


# --- the fake server's VeNCrypt, checked with Python's own TLS client ---------------------------------


def _recv(sock: socket.socket | ssl.SSLSocket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"server closed after {len(buf)} of {n} bytes")
        buf += chunk
    return buf


def _vencrypt_client(port: int, ca: Path, subtype: int) -> ssl.SSLSocket:
    """RFB 3.8 and VeNCrypt 0.2 up to the TLS session, written from the VeNCrypt description."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    assert _recv(raw, 12) == b"RFB 003.008\n"
    raw.sendall(b"RFB 003.008\n")
    assert _recv(raw, 2) == bytes((1, 19))
    raw.sendall(bytes((19,)))
    assert _recv(raw, 2) == b"\x00\x02"
    raw.sendall(b"\x00\x02")
    assert _recv(raw, 1) == b"\x00"
    (count,) = _recv(raw, 1)
    assert struct.unpack(f">{count}I", _recv(raw, 4 * count)) == (subtype,)
    raw.sendall(struct.pack(">I", subtype))
    assert _recv(raw, 1) == b"\x01"
    ctx = ssl.create_default_context(cafile=str(ca))
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def test_fake_server_speaks_vencrypt_x509none(pki: dict[str, Path]) -> None:
    with _server(pki) as srv:
        tls = _vencrypt_client(srv.port, pki["ca"], VENCRYPT_X509NONE)
        with tls:
            assert _recv(tls, 4) == b"\0\0\0\0"  # SecurityResult OK, inside TLS
            tls.sendall(b"\x01")
            width, height = struct.unpack(">HH", _recv(tls, 4))
            _recv(tls, 16)
            (n,) = struct.unpack(">I", _recv(tls, 4))
            assert (width, height, _recv(tls, n)) == (200, 150, b"desk")
            tls.sendall(struct.pack(">BBHHHH", 3, 0, 0, 0, 1, 1))  # one pixel, non-incremental
            assert struct.unpack(">BxHHHHHi", _recv(tls, 16)) == (0, 1, 0, 0, 1, 1, 0)
            assert _recv(tls, 4)[:3] == bytes((40, 90, 0))  # B, G, R of (0, 90, 40)
        srv.wait_for(lambda e: e == ("client_init", True))
    assert [e for e in srv.events if e[0] in ("vencrypt_subtype", "auth")] == [
        ("vencrypt_subtype", VENCRYPT_X509NONE), ("auth", True)]


def test_fake_server_x509vnc_checks_the_password_inside_tls(pki: dict[str, Path]) -> None:
    with _server(pki, "vencrypt-x509vnc", password="sesame") as srv:
        for password, ok in (("wrong", False), ("sesame", True)):
            with _vencrypt_client(srv.port, pki["ca"], VENCRYPT_X509VNC) as tls:
                tls.sendall(vnc_auth_response(password, _recv(tls, 16)))
                result = struct.unpack(">I", _recv(tls, 4))[0]
                assert result == (0 if ok else 1)
                if not ok:
                    (n,) = struct.unpack(">I", _recv(tls, 4))
                    assert _recv(tls, n) == b"Authentication failed"

            def authenticated(e: Event, ok: bool = ok) -> bool:
                return e == ("auth", ok)

            srv.wait_for(authenticated)


def test_fake_server_survives_a_client_that_rejects_its_certificate(pki: dict[str, Path]) -> None:
    with _server(pki) as srv:
        for _ in range(2):
            with pytest.raises(ssl.SSLCertVerificationError):
                _vencrypt_client(srv.port, pki["other_ca"], VENCRYPT_X509NONE)
            srv.wait_for(lambda e: e == ("disconnected",))
            srv.clear_events()
        with _vencrypt_client(srv.port, pki["ca"], VENCRYPT_X509NONE) as tls:  # still serving
            assert _recv(tls, 4) == b"\0\0\0\0"


def test_fake_server_refuses_another_subtype(pki: dict[str, Path]) -> None:
    with _server(pki) as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw:
        _recv(raw, 12)
        raw.sendall(b"RFB 003.008\n")
        _recv(raw, 2)
        raw.sendall(bytes((19,)))
        _recv(raw, 2)
        raw.sendall(b"\x00\x02")
        _recv(raw, 1 + 1 + 4)
        raw.sendall(struct.pack(">I", 257))  # TLSNone, not offered
        assert _recv(raw, 1) == b"\x00"
        srv.wait_for(lambda e: e == ("auth", False))
    assert ("vencrypt_subtype", 257) in srv.events


def test_vencrypt_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="tls_cert"):
        FakeRfbServer(auth="vencrypt-x509none")


# --- vmgui against it ------------------------------------------------------------------------------


def test_x509none_with_the_ca_installed_shows_the_screen(tmp_path: Path, pki: dict[str, Path]) -> None:
    with _server(pki) as srv:
        result, out = _screenshot(tmp_path, srv, _home(tmp_path, pki["ca"]))
        events = srv.events
    assert result.returncode == 0, result.stderr
    _assert_colours(out)
    assert ("vencrypt_subtype", VENCRYPT_X509NONE) in events and ("auth", True) in events


def test_x509none_by_host_name_checks_the_dns_name(tmp_path: Path, pki: dict[str, Path]) -> None:
    with _server(pki) as srv:
        result, out = _screenshot(tmp_path, srv, _home(tmp_path, pki["ca"]), host="localhost")
    assert result.returncode == 0, result.stderr
    _assert_colours(out)


def test_x509vnc_with_the_ca_and_the_password(tmp_path: Path, pki: dict[str, Path]) -> None:
    """The password comes from the domain XML (libvirt gives it with VIR_DOMAIN_XML_SECURE), sent inside TLS."""
    with _server(pki, "vencrypt-x509vnc", password="sesame") as srv:
        uri = write_host(tmp_path, srv.port)
        xml = Path(uri.removeprefix("test://"))
        xml.write_text(xml.read_text().replace("listen='127.0.0.1'", "listen='127.0.0.1' passwd='sesame'"))
        out = tmp_path / "desk.png"
        result = vmgui_at_home(tmp_path, _home(tmp_path, pki["ca"]), "--connect", uri, "--console", "desk",
                               "--screenshot", str(out))
        events = srv.events
    assert result.returncode == 0, result.stderr
    _assert_colours(out)
    assert ("vencrypt_subtype", VENCRYPT_X509VNC) in events and ("auth", True) in events


def test_x509vnc_without_a_password_asks_for_one(tmp_path: Path, pki: dict[str, Path]) -> None:
    with _server(pki, "vencrypt-x509vnc", password="sesame") as srv:
        result, out = _screenshot(tmp_path, srv, _home(tmp_path, pki["ca"]))
    assert result.returncode == 1 and "Password needed" in result.stderr, result.stderr
    assert not out.exists()


def _assert_untrusted(result: subprocess.CompletedProcess[str], out: Path) -> None:
    assert result.returncode == 1, result.stderr
    assert "the console's TLS certificate could not be verified" in result.stderr, result.stderr
    assert CA_HINT in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()


def test_no_ca_certificate_fails_with_a_clear_message(tmp_path: Path, pki: dict[str, Path]) -> None:
    with _server(pki) as srv:
        result, out = _screenshot(tmp_path, srv, _home(tmp_path, None))
        srv.wait_for(lambda e: e == ("disconnected",))
        events = srv.events
    _assert_untrusted(result, out)
    assert not [e for e in events if e[0] == "client_init"], events


def test_a_ca_that_did_not_sign_the_certificate_fails_with_a_clear_message(tmp_path: Path,
                                                                           pki: dict[str, Path]) -> None:
    with _server(pki) as srv:
        result, out = _screenshot(tmp_path, srv, _home(tmp_path, pki["other_ca"]))
    _assert_untrusted(result, out)


def test_home_from_the_environment_is_not_where_gtk_vnc_looks(tmp_path: Path, pki: dict[str, Path]) -> None:
    """Measured: with the CA only under $HOME/.pki (and the passwd home elsewhere) the certificate is untrusted."""
    passwd_home = _home(tmp_path / "passwd-home", None)
    env_home = _home(tmp_path / "env-home", pki["ca"])
    with _server(pki) as srv:
        uri = write_host(tmp_path, srv.port)
        out = tmp_path / "desk.png"
        result = _run_as_home(tmp_path, passwd_home, ["env", f"HOME={env_home}", sys.executable, "-m", "vmgui",
                                                      "--connect", uri, "--console", "desk", "--screenshot", str(out)])
    _assert_untrusted(result, out)


def test_a_certificate_for_another_host_name_fails_with_the_reason(tmp_path: Path, pki: dict[str, Path]) -> None:
    """The certificate names 127.0.0.1 and localhost; dialled as 127.0.0.2 it must be refused."""
    with _server(pki, host="127.0.0.2") as srv:
        result, out = _screenshot(tmp_path, srv, _home(tmp_path, pki["ca"]), host="127.0.0.2")
    assert result.returncode == 1, result.stderr
    assert "the console's TLS certificate could not be verified" in result.stderr
    assert "does not match hostname '127.0.0.2'" in result.stderr, result.stderr
    assert not out.exists()
