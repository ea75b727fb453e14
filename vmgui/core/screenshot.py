"""A guest's screen as image bytes from the hypervisor (virDomainScreenshot), for thumbnails."""

from __future__ import annotations

import contextlib

import libvirt

MAX_BYTES = 64 * 1024 * 1024  # a 4K screen as PPM is 25 MB; anything beyond this is not a screenshot


def take_screenshot(conn: libvirt.virConnect, uuid: str, screen: int = 0) -> tuple[str, bytes]:
    """Blocking: (MIME type, image bytes) of the guest's screen now. QEMU sends PNG or PPM."""
    dom = conn.lookupByUUIDString(uuid)
    stream = conn.newStream(0)
    try:
        mime = dom.screenshot(stream, screen, 0) or "application/octet-stream"
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = stream.recv(256 * 1024)
            if isinstance(chunk, int):  # -2: would block (non-blocking streams only)
                continue
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BYTES:
                raise ValueError(f"the screenshot is larger than {MAX_BYTES // 2**20} MiB")
            chunks.append(chunk)
        stream.finish()
    except BaseException:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        raise
    return mime, b"".join(chunks)
