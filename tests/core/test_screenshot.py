"""take_screenshot on libvirt's test driver (which draws a fixed picture for running guests)."""

from __future__ import annotations

import libvirt
import pytest

from vmgui.core.screenshot import take_screenshot


def test_screenshot_of_a_running_guest_is_an_image(host_uri: str) -> None:
    conn = libvirt.open(host_uri)
    try:
        uuid = conn.lookupByName("web-frontend").UUIDString()
        mime, data = take_screenshot(conn, uuid)
        assert mime == "image/png" and data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000
    finally:
        conn.close()


def test_screenshot_of_a_missing_guest_raises_a_libvirt_error(host_uri: str) -> None:
    conn = libvirt.open(host_uri)
    try:
        with pytest.raises(libvirt.libvirtError):
            take_screenshot(conn, "00000000-0000-4000-8000-00000000dead")
    finally:
        conn.close()
