"""Guest performance stats: one getAllDomainStats call per connection per tick, turned into rates and history."""

from __future__ import annotations

import time
from dataclasses import dataclass

import libvirt

from vmgui.core.workers import PYTHON_WORK, yield_to_gui

DEFAULT_INTERVAL = 3.0
HISTORY_LENGTH = 120  # samples kept per guest (6 minutes at the default interval)

STATS_FLAGS = (
    libvirt.VIR_DOMAIN_STATS_STATE
    | libvirt.VIR_DOMAIN_STATS_CPU_TOTAL
    | libvirt.VIR_DOMAIN_STATS_BALLOON
    | libvirt.VIR_DOMAIN_STATS_VCPU
    | libvirt.VIR_DOMAIN_STATS_INTERFACE
    | libvirt.VIR_DOMAIN_STATS_BLOCK
)


@dataclass(frozen=True, slots=True)
class Sample:
    """Cumulative counters of one guest at one moment, as libvirt reports them."""

    time: float
    cpu_ns: int | None
    vcpus: int
    memory_total_kib: int | None
    memory_used_kib: int | None
    disk_read: int
    disk_write: int
    net_rx: int
    net_tx: int


_KEYS: dict[tuple[str, int, str], str] = {}


def _key(prefix: str, i: int, suffix: str) -> str:
    """'block.0.rd.bytes' and friends, built once (collect reads thousands of them per tick)."""
    k = (prefix, i, suffix)
    text = _KEYS.get(k)
    if text is None:
        text = _KEYS[k] = f"{prefix}.{i}.{suffix}"
    return text


def sample_from_record(when: float, record: dict[str, int]) -> Sample:
    """Sum per-device counters of one getAllDomainStats record."""
    get = record.get
    disk_read = disk_write = net_rx = net_tx = 0
    for i in range(int(get("block.count", 0))):
        disk_read += int(get(_key("block", i, "rd.bytes"), 0))
        disk_write += int(get(_key("block", i, "wr.bytes"), 0))
    for i in range(int(get("net.count", 0))):
        net_rx += int(get(_key("net", i, "rx.bytes"), 0))
        net_tx += int(get(_key("net", i, "tx.bytes"), 0))
    mem_total = get("balloon.current")
    available, unused = get("balloon.available"), get("balloon.unused")
    # Only the guest's balloon driver knows what the guest uses; the QEMU process's host RSS includes
    # QEMU itself and would read as "full", so without guest stats the use stays unknown.
    mem_used = int(available) - int(unused) if available is not None and unused is not None else None
    if mem_used is not None and mem_total:
        mem_used = min(mem_used, int(mem_total))
    cpu = get("cpu.time")
    return Sample(
        time=when,
        cpu_ns=int(cpu) if cpu is not None else None,
        vcpus=int(get("vcpu.current", 0)) or 1,
        memory_total_kib=int(mem_total) if mem_total is not None else None,
        memory_used_kib=mem_used,
        disk_read=disk_read, disk_write=disk_write, net_rx=net_rx, net_tx=net_tx,
    )


@dataclass(frozen=True, slots=True)
class Rates:
    """What changed between two samples: CPU share of the guest's vCPUs, memory share, bytes/s."""

    cpu_percent: float | None = None
    memory_percent: float | None = None
    memory_used_kib: int | None = None
    disk_read_bps: float = 0.0
    disk_write_bps: float = 0.0
    net_rx_bps: float = 0.0
    net_tx_bps: float = 0.0

    @property
    def disk_bps(self) -> float:
        return self.disk_read_bps + self.disk_write_bps

    @property
    def net_bps(self) -> float:
        return self.net_rx_bps + self.net_tx_bps


def rates_between(old: Sample | None, new: Sample) -> Rates:
    mem_pct = None
    if new.memory_used_kib is not None and new.memory_total_kib:
        mem_pct = 100.0 * new.memory_used_kib / new.memory_total_kib
    if old is None or new.time <= old.time:
        return Rates(memory_percent=mem_pct, memory_used_kib=new.memory_used_kib)
    dt = new.time - old.time

    def rate(a: int, b: int) -> float:
        return max(0.0, (b - a) / dt)  # counters reset when the guest restarts: no negative rates

    cpu = None
    if old.cpu_ns is not None and new.cpu_ns is not None:
        cpu = min(100.0, max(0.0, 100.0 * (new.cpu_ns - old.cpu_ns) / (dt * 1e9 * new.vcpus)))
    return Rates(
        cpu_percent=cpu, memory_percent=mem_pct, memory_used_kib=new.memory_used_kib,
        disk_read_bps=rate(old.disk_read, new.disk_read), disk_write_bps=rate(old.disk_write, new.disk_write),
        net_rx_bps=rate(old.net_rx, new.net_rx), net_tx_bps=rate(old.net_tx, new.net_tx),
    )


@dataclass(frozen=True, slots=True)
class GuestStats:
    """The latest rates and the recent history of one guest; replaced whole on every tick."""

    last: Sample
    rates: Rates
    cpu: tuple[float, ...] = ()      # percent, oldest first
    memory: tuple[float, ...] = ()   # percent
    disk: tuple[float, ...] = ()     # bytes/s, read + write
    net: tuple[float, ...] = ()      # bytes/s, rx + tx

    def advanced(self, sample: Sample, length: int = HISTORY_LENGTH) -> GuestStats:
        rates = rates_between(self.last, sample)
        return _append(sample, rates, self, length)

    @staticmethod
    def first(sample: Sample) -> GuestStats:
        return GuestStats(last=sample, rates=rates_between(None, sample))


def _append(sample: Sample, rates: Rates, prev: GuestStats, length: int) -> GuestStats:
    def push(series: tuple[float, ...], value: float | None) -> tuple[float, ...]:
        if value is None:  # unknown (no counter from this driver/guest): draw nothing, not a false zero
            return series
        return (*series[-(length - 1):], value)

    return GuestStats(
        last=sample, rates=rates,
        cpu=push(prev.cpu, rates.cpu_percent), memory=push(prev.memory, rates.memory_percent),
        disk=push(prev.disk, rates.disk_bps), net=push(prev.net, rates.net_bps),
    )


def collect(conn: libvirt.virConnect, previous: dict[str, GuestStats],
            length: int = HISTORY_LENGTH) -> dict[str, GuestStats]:
    """One tick (blocking): fetch all running guests' counters in one call and extend their history.

    Guests no longer running drop out, so a restarted guest starts a fresh history.
    """
    records = conn.getAllDomainStats(STATS_FLAGS, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE)
    now = time.monotonic()
    result: dict[str, GuestStats] = {}
    with PYTHON_WORK:
        for dom, record in records:
            yield_to_gui()
            uuid = dom.UUIDString()
            sample = sample_from_record(now, record)
            old = previous.get(uuid)
            result[uuid] = old.advanced(sample, length) if old is not None else GuestStats.first(sample)
    return result
