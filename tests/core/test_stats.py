"""Stats arithmetic on synthetic getAllDomainStats records: rates, clamping, history, unknowns."""

from __future__ import annotations

import libvirt
import pytest

from vmgui.core.stats import HISTORY_LENGTH, GuestStats, collect, rates_between, sample_from_record


def record(cpu_s: float, *, vcpus: int = 2, rd: int = 0, wr: int = 0, rx: int = 0, tx: int = 0,
           balloon: bool = True) -> dict[str, int]:
    rec = {"state.state": 1, "cpu.time": int(cpu_s * 1e9), "vcpu.current": vcpus,
           "balloon.current": 2048 * 1024, "block.count": 2, "block.0.rd.bytes": rd, "block.1.rd.bytes": rd,
           "block.0.wr.bytes": wr, "block.1.wr.bytes": 0, "net.count": 1, "net.0.rx.bytes": rx,
           "net.0.tx.bytes": tx}
    if balloon:
        rec |= {"balloon.available": 2000 * 1024, "balloon.unused": 1500 * 1024}
    return rec


def test_rates_between_two_samples() -> None:
    a = sample_from_record(100.0, record(10.0, rd=1000, wr=0, rx=0, tx=0))
    b = sample_from_record(102.0, record(11.0, rd=3000, wr=4000, rx=1000, tx=500))
    r = rates_between(a, b)
    assert r.cpu_percent == pytest.approx(25.0)  # 1 s of CPU over 2 s on 2 vCPUs
    assert r.disk_read_bps == pytest.approx(2000.0)  # two disks, 2000 bytes more each, over 2 s
    assert r.disk_write_bps == pytest.approx(2000.0) and r.disk_bps == pytest.approx(4000.0)
    assert (r.net_rx_bps, r.net_tx_bps) == pytest.approx((500.0, 250.0))
    assert r.memory_used_kib == 500 * 1024 and r.memory_percent == pytest.approx(100 * 500 / 2048)


def test_counter_reset_gives_no_negative_rates_and_cpu_is_clamped() -> None:
    a = sample_from_record(0.0, record(50.0, rd=10_000))
    b = sample_from_record(1.0, record(1.0, rd=0))
    r = rates_between(a, b)
    assert r.cpu_percent == 0.0 and r.disk_read_bps == 0.0
    c = sample_from_record(2.0, record(5.0))  # 4 s of CPU in 1 s on 2 vCPUs: clamp, never 200 %
    assert rates_between(b, c).cpu_percent == 100.0


def test_unknowns_stay_unknown() -> None:
    no_guest_memory = sample_from_record(0.0, record(1.0, balloon=False))
    assert no_guest_memory.memory_used_kib is None
    assert rates_between(None, no_guest_memory).memory_percent is None
    test_driver = sample_from_record(0.0, {"state.state": 1})
    assert test_driver.cpu_ns is None and rates_between(test_driver, test_driver).cpu_percent is None


def test_history_is_bounded_and_skips_unknown_values() -> None:
    st = GuestStats.first(sample_from_record(0.0, record(0.0)))
    assert st.cpu == ()  # one sample has no rate yet
    for i in range(1, HISTORY_LENGTH + 30):
        st = st.advanced(sample_from_record(float(i), record(i * 0.5)))
    assert len(st.cpu) == HISTORY_LENGTH and st.cpu[-1] == pytest.approx(25.0)
    blind = GuestStats.first(sample_from_record(0.0, {"state.state": 1}))
    blind = blind.advanced(sample_from_record(1.0, {"state.state": 1}))
    assert blind.cpu == () and blind.memory == () and blind.disk == (0.0,)


def test_collect_on_the_test_driver(aloop: object, host_uri: str) -> None:
    conn = libvirt.open(host_uri)
    first = collect(conn, {})
    running = {d.UUIDString() for d in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE)}
    assert set(first) == running and len(first) == 7  # running, blocked, paused, stopping, suspended
    second = collect(conn, first)
    assert all(second[u].last.time >= first[u].last.time for u in running)
    conn.close()
