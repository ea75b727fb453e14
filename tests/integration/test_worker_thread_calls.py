"""Regression: libvirt calls from worker threads on a remote-driver connection (libvirtaio segfaulted)."""

from __future__ import annotations

import asyncio

import libvirt
import pytest

from tests.helpers import run

pytestmark = pytest.mark.integration


def test_many_worker_thread_calls_with_events_registered(system_uri: str) -> None:
    async def hammer() -> int:
        conn = await asyncio.to_thread(libvirt.open, system_uri)
        conn.setKeepAlive(5, 3)
        conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda *a: None, None)
        calls = 0
        for _ in range(100):
            await asyncio.gather(asyncio.to_thread(conn.listAllDomains, 0),
                                 asyncio.to_thread(conn.getAllDomainStats, 0, 0),
                                 asyncio.to_thread(conn.getVersion))
            calls += 3
        await asyncio.to_thread(conn.close)
        return calls

    assert run(hammer(), timeout=120) == 300
