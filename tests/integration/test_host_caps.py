"""Host capabilities of the real qemu:///system: KVM only where it can run, an emulator that exists."""

from __future__ import annotations

import platform
from pathlib import Path

import libvirt
import pytest

from tests.guest.tiny_guest import kvm_usable
from vmgui.core.host_caps import read_host_caps

pytestmark = pytest.mark.integration


def test_system_host_caps(system_uri: str) -> None:
    conn = libvirt.open(system_uri)
    try:
        host = read_host_caps(conn)
        info = conn.getInfo()
    finally:
        conn.close()
    # Where /dev/kvm opens but cannot run a guest (this sandbox), libvirt still lists 'kvm': vmgui must not.
    assert host.virt_type == ("kvm" if kvm_usable() else "qemu")
    assert host.has_kvm == (host.virt_type == "kvm")
    assert host.driver == "qemu" and host.arch == platform.machine() == "x86_64"
    assert host.emulator is not None and Path(host.emulator).exists()
    assert "vnc" in host.graphics_types and "virtio" in host.disk_buses and "vga" in host.video_models
    assert host.machine in host.machines and {"pc", "q35"} <= set(host.machines)
    assert host.firmware[0] == "bios" and host.supports_uefi() == ("efi" in host.firmware)
    assert host.max_vcpus is not None and host.max_vcpus >= 1
    assert (host.host_memory_mib, host.host_cpus) == (info[1], info[2])
