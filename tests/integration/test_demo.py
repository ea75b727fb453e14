"""The demo desktop pool on a real libvirtd: idempotent, a desktop boots, removal and cancel leave no trace."""

from __future__ import annotations

import os
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from tests.guest.build_tiny_guest import default_cache_dir
from tests.helpers import wait_until
from tests.integration.conftest import PREFIX, dir_pool, serial_text
from vmgui.core.host_caps import read_host_caps
from vmgui.core.vdi import golden
from vmgui.core.vdi.demo import DemoCancelled, build_demo, demo_present, remove_demo
from vmgui.core.vdi.demo_names import DemoNames
from vmgui.core.vdi.pool_specs import read_pools

PID = os.getpid()


@pytest.fixture(scope="module")
def storage_pool(system_uri: str) -> Iterator[str]:
    """A transient directory pool QEMU (as libvirt-qemu) can read, like the host's default one."""
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}demo-"))
    path.chmod(0o755)
    with dir_pool(system_uri, f"{PREFIX}demo-pool-{PID}", path) as pool:
        yield pool.name


@pytest.fixture(scope="module")
def names(storage_pool: str) -> DemoNames:
    """The demo under names of this test run (the product's are fixed: vmgui-demo, demo-1...)."""
    return DemoNames(golden=f"{PREFIX}demo-{PID}", pool=f"it-demo-{PID}", pattern=f"{PREFIX}demo-{{n}}-{PID}",
                     storage_pool=storage_pool, kernel=f"{PREFIX}demo-vmlinuz-{PID}",
                     initrd=f"{PREFIX}demo-initrd-{PID}.gz", disk=f"{PREFIX}demo-disk-{PID}.qcow2")


@pytest.fixture
def conn(system_uri: str, names: DemoNames) -> Iterator[libvirt.virConnect]:
    connection = libvirt.open(system_uri)
    yield connection
    try:
        remove_demo(connection, names=names)  # whatever a failed test left
    finally:
        connection.close()
        for log in Path("/var/log/libvirt/qemu").glob(f"{PREFIX}demo-*{PID}-serial.log"):
            log.unlink(missing_ok=True)


def host_state(conn: libvirt.virConnect, names: DemoNames) -> tuple[list[str], list[str], list[str]]:
    """The guests and desktop pools of this test run, and the volumes of its storage pool: to compare.
    (Other test runs and benchmarks make guests on the same host meanwhile.)"""
    pool = conn.storagePoolLookupByName(names.storage_pool)
    pool.refresh(0)
    return (sorted(n for n in (d.name() for d in conn.listAllDomains(0)) if str(PID) in n),
            sorted(v.name() for v in pool.listAllVolumes(0)), sorted(p.name for p in read_pools(conn)
                                                                      if str(PID) in p.name))


def test_the_demo_is_built_once_boots_and_is_removed_without_a_trace(conn: libvirt.virConnect,
                                                                      names: DemoNames) -> None:
    before = host_state(conn, names)
    assert not demo_present(conn, names)
    steps: list[str] = []
    started = time.monotonic()
    made = build_demo(conn, steps.append, names=names, cache_dir=default_cache_dir(), user="alice")
    print(f"demo built in {time.monotonic() - started:.1f} s (tiny guest from the test cache)")
    assert made.version == 1 and made.golden_name == names.golden
    assert [d.name for d in made.desktops] == [names.pattern.format(n=n) for n in (1, 2, 3)]
    assert made.mine is not None and made.mine.name == names.pattern.format(n=1)
    assert [d.user for d in made.desktops] == ["alice", None, None]
    assert any("Publishing" in s for s in steps) and any("Making the desktops" in s for s in steps)
    assert demo_present(conn, names)

    dom = conn.lookupByName(names.golden)
    root = ET.fromstring(dom.XMLDesc(0))
    assert root.get("type") == ("kvm" if read_host_caps(conn, "x86_64").has_kvm else "qemu")
    assert root.findtext("os/cmdline", "").startswith("console=tty1 console=ttyS0")
    assert root.find("devices/graphics[@type='vnc']/listen[@address='127.0.0.1']") is not None
    image = golden.read_golden(dom)
    assert image is not None and [v.number for v in image.versions] == [1]

    again = build_demo(conn, steps.append, names=names, cache_dir=default_cache_dir(), user="alice")
    assert again.made == ()  # every step was done already
    assert again.golden_uuid == made.golden_uuid and again.desktops == made.desktops

    desktop = conn.lookupByUUIDString(made.desktops[0].uuid)
    desktop.create()
    try:
        took = wait_until(lambda: "VMGUI-TINY-GUEST READY" in serial_text(desktop), timeout=150,
                          what="the demo desktop's shell")
        print(f"demo desktop booted in {took:.1f} s")
    finally:
        desktop.destroy()

    removed = remove_demo(conn, names=names)
    assert names.golden in removed and names.kernel in removed
    assert host_state(conn, names) == before
    assert not demo_present(conn, names)
    assert remove_demo(conn, names=names) == []  # nothing left to remove


@pytest.mark.parametrize("cancel_at", ["Building the tiny Linux guest", "Publishing", "Making the desktops"])
def test_a_cancel_half_way_leaves_nothing(conn: libvirt.virConnect, names: DemoNames, tmp_path: Path,
                                          cancel_at: str) -> None:
    before = host_state(conn, names)
    cancel = threading.Event()

    def progress(step: str) -> None:
        if step.startswith(cancel_at):
            cancel.set()  # this step still runs; the next one finds the flag

    # A cold cache: the build itself is what gets cancelled (before apt-get runs), so nothing is downloaded.
    cache = tmp_path if cancel_at.startswith("Building") else default_cache_dir()
    with pytest.raises(DemoCancelled):
        build_demo(conn, progress, cancel, names=names, cache_dir=cache)
    assert cancel.is_set()
    assert host_state(conn, names) == before
    assert not demo_present(conn, names)
    assert not list(tmp_path.glob("guest-*"))
