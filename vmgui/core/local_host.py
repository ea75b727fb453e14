"""Which local hypervisor to open by default: qemu:///system when its daemon answers us, else the session."""

from __future__ import annotations

import os
import socket

from vmgui.core.uris import SESSION_URI, SYSTEM_URI

# The sockets a system daemon listens on: monolithic libvirtd, or the modular virtqemud.
SYSTEM_SOCKETS = ("/run/libvirt/libvirt-sock", "/run/libvirt/virtqemud-sock")


def _answers(path: str, timeout: float = 1.0) -> bool:
    if not os.access(path, os.W_OK):
        return False  # exists but not ours to use (non-root without a libvirt group/polkit rule)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def default_local_uri(sockets: tuple[str, ...] = SYSTEM_SOCKETS) -> str:
    return SYSTEM_URI if any(_answers(path) for path in sockets) else SESSION_URI
