"""A .vv file's `proxy=` (HTTP CONNECT, as Proxmox's SPICE proxy): vmgui reaches a QEMU SPICE server through it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.qemu_spice import SpiceQemu, running_spice_qemu
from tests.ui.test_screenshot import vmgui


class ConnectProxy:
    """A minimal HTTP CONNECT proxy on 127.0.0.1 that records the targets it was asked for."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.targets: list[str] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = client.recv(4096)
                if not chunk:
                    return
                request += chunk
            line = request.split(b"\r\n", 1)[0].decode()
            method, target, _ = line.split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            self.targets.append(target)
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port))) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                pump = threading.Thread(target=self._pipe, args=(upstream, client), daemon=True)
                pump.start()
                self._pipe(client, upstream)
                pump.join(5)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def qemu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpiceQemu]:
    for server, _x509, _other_ca in running_spice_qemu(tmp_path_factory.mktemp("spice-proxy")):
        yield server


def test_a_vv_proxy_carries_the_spice_connection(qemu: SpiceQemu, tmp_path: Path) -> None:
    proxy = ConnectProxy()
    try:
        vv = tmp_path / "proxied.vv"
        vv.write_text(f"[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport={qemu.port}\n"
                      f"proxy=http://127.0.0.1:{proxy.port}\n")
        out = tmp_path / "proxied.png"
        result = vmgui(tmp_path, str(vv), "--screenshot", str(out))
    finally:
        proxy.close()
    assert result.returncode == 0, result.stderr
    assert out.exists()
    assert proxy.targets.count(f"127.0.0.1:{qemu.port}") >= 2  # the main and the display channel, at least
