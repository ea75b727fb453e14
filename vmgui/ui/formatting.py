"""Numbers and guest facts as the short texts the guest list shows."""

from __future__ import annotations

from html import escape

from vmgui.core.guest import GuestInfo
from vmgui.core.stats import Rates


def count(n: int, noun: str) -> str:
    """'1 guest', '3 guests' (nouns that take an s)."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} %"


def size_kib(kib: float) -> str:
    value = float(kib)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit in ("KiB", "MiB") else f"{value:.1f} {unit}"
        value /= 1024
    return ""  # unreachable


def memory(used_kib: int | None, total_kib: int | None) -> str:
    if used_kib is None or not total_kib:
        return size_kib(total_kib) if total_kib else ""
    return f"{size_kib(used_kib)} / {size_kib(total_kib)}"


def rate(bytes_per_second: float) -> str:
    value = bytes_per_second
    for unit in ("B/s", "KB/s", "MB/s", "GB/s"):
        if value < 1000 or unit == "GB/s":
            return f"{value:.0f} {unit}" if unit == "B/s" else f"{value:.1f} {unit}"
        value /= 1000
    return ""  # unreachable


def guest_tooltip(guest: GuestInfo) -> str:
    lines = [f"<b>{escape(guest.name)}</b>"]
    if guest.title:
        lines.append(escape(guest.title))
    lines.append(f"{escape(guest.state_text)} · {guest.vcpus} vCPU · {size_kib(guest.memory_kib)}")
    if guest.tags:
        lines.append("Tags: " + escape(", ".join(guest.tags)))
    if guest.description:
        lines.append(f"<i>{escape(guest.description)}</i>")
    if guest.autostart:
        lines.append("Starts with the host")
    return "<br>".join(lines)


def stats_tooltip(kind: str, r: Rates) -> str:
    if kind == "cpu":
        return f"Guest CPU usage: {percent(r.cpu_percent) or 'n/a'}"
    if kind == "memory":
        return f"Memory in use: {percent(r.memory_percent) or 'n/a'}"
    if kind == "disk":
        return f"Disk read {rate(r.disk_read_bps)}, write {rate(r.disk_write_bps)}"
    return f"Network receive {rate(r.net_rx_bps)}, send {rate(r.net_tx_bps)}"
