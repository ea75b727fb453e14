"""Host capabilities: saved libvirt XML parsed, the test driver read, KVM chosen only when it can run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import libvirt
import pytest

from vmgui.core.errors import VmguiError
from vmgui.core.host_caps import (
    HostCaps,
    UnsupportedGuestError,
    build_host_caps,
    cpu_has_virt_extensions,
    fallback_domain_caps,
    parse_capabilities,
    parse_domain_caps,
    read_host_caps,
)

DATA = Path(__file__).parents[1] / "data" / "host_caps"
# Real, from a libvirt 9.0 / QEMU 7.2 host whose /dev/kvm cannot run guests (TCG only, no OVMF, no swtpm).
TCG_DOMCAPS = (DATA / "domcaps-qemu-tcg.xml").read_text()
CAPABILITIES = (DATA / "capabilities.xml").read_text()
HOST_CPU_EXPANDED = (DATA / "host-cpu-expanded.xml").read_text()
# That host's KVM q35 domcaps, edited by hand to have OVMF, Secure Boot and swtpm (see the file's comment).
KVM_DOMCAPS = (DATA / "domcaps-kvm-ovmf.xml").read_text()
OVMF = ("/usr/share/OVMF/OVMF_CODE_4M.ms.fd", "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
        "/usr/share/OVMF/OVMF_CODE_4M.fd")


# --- getDomainCapabilities XML


def test_tcg_host_domcaps() -> None:
    caps = parse_domain_caps(TCG_DOMCAPS)
    assert (caps.emulator, caps.virt_type, caps.machine, caps.arch) == (
        "/usr/bin/qemu-system-x86_64", "qemu", "pc-i440fx-7.2", "x86_64")
    assert caps.max_vcpus == 255
    # The loader enums (rom/pflash, readonly) are there, but no firmware image and no efi firmware value.
    assert caps.firmware == ("bios",) and caps.loaders == () and caps.secure_boot is False
    assert caps.disk_buses == ("ide", "fdc", "scsi", "virtio", "usb", "sata")
    assert caps.disk_devices == ("disk", "cdrom", "floppy", "lun")
    assert caps.graphics_types == ("sdl", "vnc", "spice", "egl-headless", "dbus")
    assert caps.video_models == ("vga", "cirrus", "vmvga", "qxl", "virtio", "none", "bochs", "ramfb")
    assert caps.tpm_models == ("tpm-tis", "tpm-crb") and caps.tpm_backends == ("passthrough",)
    assert caps.redirdev_buses == ("usb",)


def test_kvm_host_with_ovmf_domcaps() -> None:
    caps = parse_domain_caps(KVM_DOMCAPS)
    assert (caps.virt_type, caps.machine, caps.max_vcpus) == ("kvm", "pc-q35-7.2", 288)
    assert caps.firmware == ("bios", "efi") and caps.secure_boot is True
    assert caps.loaders == OVMF
    assert caps.disk_buses == ("fdc", "scsi", "virtio", "usb", "sata")  # q35 has no IDE
    assert caps.graphics_types == ("sdl", "vnc", "spice", "egl-headless", "dbus")
    assert caps.video_models == ("vga", "cirrus", "vmvga", "qxl", "virtio", "none", "bochs", "ramfb")
    assert caps.tpm_backends == ("passthrough", "emulator")


def test_efi_from_either_the_firmware_enum_or_loader_images() -> None:
    enum_only = KVM_DOMCAPS
    for path in OVMF:
        enum_only = enum_only.replace(f"<value>{path}</value>", "")
    assert parse_domain_caps(enum_only).firmware == ("bios", "efi")
    assert parse_domain_caps(enum_only).loaders == ()
    images_only = TCG_DOMCAPS.replace("<loader supported='yes'>",
                                      f"<loader supported='yes'><value>{OVMF[2]}</value>")
    assert parse_domain_caps(images_only).firmware == ("bios", "efi")
    assert parse_domain_caps(images_only).secure_boot is False  # secure lists only "no"


def test_secure_yes_without_uefi_firmware_is_no_secure_boot() -> None:
    xml = TCG_DOMCAPS.replace("<enum name='secure'>", "<enum name='secure'><value>yes</value>")
    assert parse_domain_caps(xml).secure_boot is False


def test_unsupported_blocks_list_nothing_and_only_x86_has_bios() -> None:
    caps = parse_domain_caps("""<domainCapabilities><arch>aarch64</arch><domain>qemu</domain>
        <os supported='no'/><devices><disk supported='no'/><tpm supported='no'/>
        <graphics supported='yes'><enum name='type'><value>vnc</value></enum></graphics></devices>
        </domainCapabilities>""")
    assert caps.firmware == () and caps.disk_buses == () and caps.tpm_models == ()
    assert caps.graphics_types == ("vnc",) and caps.max_vcpus is None and caps.machine is None


# --- getCapabilities XML


def test_capabilities_of_the_real_host() -> None:
    caps = parse_capabilities(CAPABILITIES)
    assert caps.host_arch == "x86_64" and caps.guest_arches() == ("i686", "x86_64")
    assert caps.host_cpu_xml is not None and "<model>kvm64</model>" in caps.host_cpu_xml
    best, second = caps.candidates("x86_64")
    assert (best.virt_type, second.virt_type) == ("kvm", "qemu")  # libvirt lists kvm: /dev/kvm opens
    assert best.emulator == "/usr/bin/qemu-system-x86_64" and best.os_type == "hvm"
    names = best.machine_names()
    assert names[0] == "pc-i440fx-7.2" and {"pc", "q35", "pc-q35-7.2", "microvm"} <= set(names)
    assert len(names) == len(set(names)) == 60
    assert best.default_machine() == best.machines[0] and best.machines[0].max_cpus == 255
    assert caps.candidates("aarch64") == []


def test_hvm_is_preferred_over_other_os_types() -> None:
    caps = parse_capabilities("""<capabilities><host><cpu><arch>i686</arch></cpu></host>
        <guest><os_type>xen</os_type><arch name='i686'><domain type='test'/></arch></guest>
        <guest><os_type>hvm</os_type><arch name='i686'><emulator>/bin/hv</emulator>
          <machine>m1</machine><domain type='test'/>
          <domain type='kvm'><emulator>/bin/kvm</emulator><machine canonical='m2'>alias</machine></domain>
        </arch></guest></capabilities>""")
    assert caps.host_cpu_xml is None  # no <model>: nothing for libvirt to expand
    kvm, hvm_test, xen = caps.candidates("i686")
    assert (kvm.os_type, kvm.virt_type, kvm.emulator, kvm.machine_names()) == ("hvm", "kvm", "/bin/kvm",
                                                                               ("alias", "m2"))
    assert (hvm_test.virt_type, hvm_test.emulator, hvm_test.machine_names()) == ("test", "/bin/hv", ("m1",))
    assert xen.os_type == "xen"


def test_virt_extensions_in_the_expanded_host_cpu() -> None:
    assert cpu_has_virt_extensions(HOST_CPU_EXPANDED) is False  # this host hides AMD-V
    with_svm = HOST_CPU_EXPANDED.replace("</cpu>", "  <feature policy='require' name='svm'/>\n</cpu>")
    assert cpu_has_virt_extensions(with_svm) is True
    assert cpu_has_virt_extensions(with_svm.replace("'require' name='svm'", "'disable' name='svm'")) is False


# --- HostCaps


def kvm_host_caps() -> HostCaps:
    kvm = parse_capabilities(CAPABILITIES).candidates("x86_64")[0]
    return build_host_caps("qemu", kvm, parse_domain_caps(KVM_DOMCAPS), host_memory_mib=8282, host_cpus=2)


def test_build_from_capabilities_and_domcaps() -> None:
    host = kvm_host_caps()
    assert (host.driver, host.virt_type, host.has_kvm, host.arch) == ("qemu", "kvm", True, "x86_64")
    assert host.machine == "pc-q35-7.2" and "q35" in host.machines and "pc" in host.machines
    assert host.supports_uefi() and host.secure_boot and host.loaders == OVMF
    assert (host.max_vcpus, host.host_memory_mib, host.host_cpus) == (288, 8282, 2)


def test_without_domcaps_the_default_machine_and_its_limit_come_from_capabilities() -> None:
    qemu = parse_capabilities(CAPABILITIES).candidates("x86_64")[1]
    host = build_host_caps("qemu", qemu, fallback_domain_caps(qemu), host_memory_mib=1, host_cpus=1)
    assert (host.virt_type, host.machine, host.max_vcpus) == ("qemu", "pc-i440fx-7.2", 255)
    assert host.firmware == ("bios",) and host.tpm_models == () and not host.supports_uefi()


def test_best_video() -> None:
    host = kvm_host_caps()
    assert host.best_video() == "virtio"
    assert host.best_video(("bochs", "virtio")) == "bochs"
    assert dataclasses.replace(host, video_models=("cirrus", "qxl", "vga")).best_video() == "qxl"
    assert dataclasses.replace(host, video_models=("cirrus",)).best_video() == "vga"
    assert host.best_video(("nonesuch",)) == "vga"


def test_best_disk_bus() -> None:
    q35 = kvm_host_caps()
    assert q35.best_disk_bus(virtio_ok=True) == "virtio"
    assert q35.best_disk_bus(virtio_ok=False) == "sata"
    no_virtio = dataclasses.replace(q35, disk_buses=("ide", "sata"))
    assert no_virtio.best_disk_bus(virtio_ok=True) == "sata"
    assert dataclasses.replace(q35, disk_buses=("ide", "fdc")).best_disk_bus(virtio_ok=False) == "ide"
    assert dataclasses.replace(q35, disk_buses=()).best_disk_bus(virtio_ok=True) == "ide"


# --- read_host_caps on libvirt's test driver


def test_read_the_test_driver() -> None:
    conn = libvirt.open("test:///default")
    try:
        host = read_host_caps(conn)
        caps = parse_capabilities(conn.getCapabilities())
        info = conn.getInfo()
    finally:
        conn.close()
    assert (host.driver, host.virt_type, host.has_kvm) == ("test", "test", False)
    assert host.arch == caps.host_arch == "i686"
    # The test driver lists no machine types, so there is no machine to name.
    assert caps.candidates("i686")[0].machines == () and host.machines == () and host.machine == ""
    assert host.os_type == "hvm" and host.emulator == "/usr/bin/test-hv"
    assert (host.host_memory_mib, host.host_cpus) == (info[1], info[2]) == (3072, 16)
    assert host.firmware == ("bios",) and not host.supports_uefi() and not host.secure_boot
    assert host.disk_buses == ("virtio", "sata", "ide", "scsi", "usb")
    assert host.graphics_types == ("vnc", "spice")
    assert host.video_models == ("vga", "qxl", "virtio", "cirrus")
    assert host.tpm_models == () and host.tpm_backends == ()


def test_an_arch_the_host_does_not_run_is_a_clear_error() -> None:
    conn = libvirt.open("test:///default")
    try:
        with pytest.raises(UnsupportedGuestError, match=r"^This host cannot run x86_64 guests \(it runs i686"):
            read_host_caps(conn, "x86_64")
    finally:
        conn.close()
    assert issubclass(UnsupportedGuestError, VmguiError)


# --- choosing KVM: a connection answering with the saved XML


class SavedHost:
    """A libvirt connection that answers with the saved XML of the real host (and the edited KVM one)."""

    def __init__(self, *, host_cpu: str = HOST_CPU_EXPANDED, kvm_domcaps: str | None = KVM_DOMCAPS) -> None:
        self.host_cpu = host_cpu
        self.kvm_domcaps = kvm_domcaps
        self.asked: list[str] = []

    def getType(self) -> str:
        return "QEMU"

    def getCapabilities(self) -> str:
        return CAPABILITIES

    def getInfo(self) -> list[Any]:
        return ["x86_64", 8282, 2, 2445, 1, 1, 2, 1]

    def isAlive(self) -> int:
        return 1

    def baselineCPU(self, cpus: list[str], flags: int) -> str:
        assert flags == libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES and "<model>kvm64</model>" in cpus[0]
        return self.host_cpu

    def getDomainCapabilities(self, emulator: str, arch: str, machine: str | None, virttype: str,
                              flags: int = 0) -> str:
        self.asked.append(virttype)
        assert (emulator, arch, machine) == ("/usr/bin/qemu-system-x86_64", "x86_64", None)
        if virttype == "kvm":
            if self.kvm_domcaps is None:
                raise libvirt.libvirtError("KVM is not available")
            return self.kvm_domcaps
        return TCG_DOMCAPS


def test_kvm_listed_but_the_cpu_lacks_virt_extensions_gives_qemu() -> None:
    conn = SavedHost()
    host = read_host_caps(conn)
    assert (host.virt_type, host.has_kvm, host.machine) == ("qemu", False, "pc-i440fx-7.2")
    assert conn.asked == ["qemu"]


def test_kvm_when_the_cpu_has_virt_extensions() -> None:
    conn = SavedHost(host_cpu=HOST_CPU_EXPANDED.replace("</cpu>", "<feature policy='require' name='svm'/></cpu>"))
    host = read_host_caps(conn)
    assert (host.virt_type, host.has_kvm, host.firmware) == ("kvm", True, ("bios", "efi"))
    assert conn.asked == ["kvm"]


def test_kvm_domcaps_failing_falls_back_to_qemu() -> None:
    conn = SavedHost(host_cpu=HOST_CPU_EXPANDED.replace("</cpu>", "<feature policy='require' name='vmx'/></cpu>"),
                     kvm_domcaps=None)
    host = read_host_caps(conn)
    assert (host.virt_type, host.has_kvm) == ("qemu", False)
    assert conn.asked == ["kvm", "qemu"]
