"""Wizard choices -> domain XML: golden files, libvirt's schema, and a define on the test driver; checks."""

from __future__ import annotations

import functools
import os
from dataclasses import replace
from pathlib import Path

import libvirt
import pytest
from lxml import etree

from vmgui.core.domain_xml import DomainXml
from vmgui.core.host_caps import HostCaps, build_host_caps, parse_capabilities, parse_domain_caps
from vmgui.core.host_networks import USER_MODE, NetworkOption
from vmgui.core.new_guest import (
    DiskPlan,
    InstallMethod,
    NewGuestPlan,
    build_domain,
    install_domain,
    name_problem,
    plan_problems,
)
from vmgui.core.osinfo import GENERIC, OsCatalog, OsInfo

DATA = Path(__file__).parents[1] / "data"
GOLDEN = DATA / "new_guest"
UPDATE = os.environ.get("VMGUI_UPDATE_GOLDEN") == "1"  # rewrite the golden files from the builder's output
DEFAULT_NET = NetworkOption("network", "default", "Virtual network 'default' (nat)")


def host(domcaps: str, candidate: int) -> HostCaps:
    """A real host's capabilities (saved from this project's machines, see tests/data/host_caps)."""
    guest = parse_capabilities((DATA / "host_caps" / "capabilities.xml").read_text()).candidates("x86_64")[candidate]
    return build_host_caps("qemu", guest, parse_domain_caps((DATA / "host_caps" / domcaps).read_text()),
                           host_memory_mib=8282, host_cpus=2)


TCG = host("domcaps-qemu-tcg.xml", 1)  # QEMU without KVM, no UEFI firmware (this machine)
KVM = host("domcaps-kvm-ovmf.xml", 0)  # KVM with OVMF and swtpm


SCHEMA = Path("/usr/share/libvirt/schemas/domain.rng")  # from libvirt-daemon-system's dependencies


@functools.cache
def domain_schema() -> etree.RelaxNG:
    assert SCHEMA.exists(), f"{SCHEMA} is missing (Debian package libvirt-clients)"
    return etree.RelaxNG(etree.parse(str(SCHEMA)))


@pytest.fixture(scope="module")
def catalog() -> OsCatalog:
    return OsCatalog.load()


def os_named(catalog: OsCatalog, short_id: str) -> OsInfo:
    info = catalog.get(short_id)
    assert info is not None, short_id
    return info


def plans(catalog: OsCatalog) -> dict[str, tuple[NewGuestPlan, HostCaps]]:
    debian = os_named(catalog, "debian11")
    return {
        "debian11-iso-tcg": (NewGuestPlan(
            name="debian11", method=InstallMethod.MEDIA, os=debian, memory_mib=2048, vcpus=2,
            disk=DiskPlan(pool="default", size_gib=20, path="/var/lib/libvirt/images/debian11.qcow2"),
            media="/isos/debian-11.7.0-amd64-netinst.iso", network=DEFAULT_NET), TCG),
        "win11-iso-kvm-uefi": (NewGuestPlan(
            name="win11", method=InstallMethod.MEDIA, os=os_named(catalog, "win11"), memory_mib=4096, vcpus=2,
            disk=DiskPlan(pool="default", size_gib=64, path="/var/lib/libvirt/images/win11.qcow2"),
            media="/isos/Win11_22H2_English_x64.iso", network=DEFAULT_NET, firmware="efi"), KVM),
        "winxp-import-tcg-vnc": (NewGuestPlan(
            name="old-xp", method=InstallMethod.IMPORT, os=os_named(catalog, "winxp"), memory_mib=512, vcpus=1,
            disk=DiskPlan(path="/images/xp.img", format="raw"), graphics="vnc"), TCG),
        "kernel-generic-tcg-headless": (NewGuestPlan(
            name="tiny", method=InstallMethod.KERNEL, os=GENERIC, memory_mib=256, vcpus=1,
            kernel="/boot/vmlinuz", initrd="/boot/initrd.img", cmdline="console=ttyS0 quiet", graphics="none"), TCG),
        "fedora37-pxe-kvm-user": (NewGuestPlan(
            name="fedora-pxe", method=InstallMethod.MANUAL, os=os_named(catalog, "fedora37"), memory_mib=2048,
            vcpus=2, disk=DiskPlan(pool="default", size_gib=20, path="/var/lib/libvirt/images/fedora-pxe.qcow2"),
            network=USER_MODE, graphics="vnc"), KVM),
        "fedora37-net-kvm-bridge": (NewGuestPlan(
            name="fedora-net", method=InstallMethod.NETWORK, os=os_named(catalog, "fedora37"), memory_mib=2048,
            vcpus=2, disk=DiskPlan(pool="default", size_gib=20, path="/var/lib/libvirt/images/fedora-net.qcow2"),
            install_url="https://mirror.example/fedora/releases/37/Everything/x86_64/os",
            network=NetworkOption("bridge", "br0", "Bridge br0"), firmware="efi"), KVM),
    }


CASES = ["debian11-iso-tcg", "win11-iso-kvm-uefi", "winxp-import-tcg-vnc", "kernel-generic-tcg-headless",
         "fedora37-pxe-kvm-user", "fedora37-net-kvm-bridge"]


def as_chosen(plan: NewGuestPlan) -> NewGuestPlan:
    """The plan as the wizard checks it: a new image has no path until its pool makes it."""
    disk = plan.disk
    return replace(plan, disk=replace(disk, path=None)) if disk is not None and disk.pool else plan


def check_golden(xml: str, golden: Path) -> None:
    """`xml` is the golden file's text, valid by libvirt's schema and defined by the test driver."""
    if UPDATE:
        golden.write_text(xml)
    assert xml == golden.read_text(), f"{golden.name} differs: rerun with VMGUI_UPDATE_GOLDEN=1 and review the diff"
    schema = domain_schema()  # libvirt's own schema (as virt-xml-validate checks it)
    assert schema.validate(etree.fromstring(xml.encode())), schema.error_log.last_error


@pytest.mark.parametrize("case", CASES)
def test_choices_give_the_golden_xml_that_libvirt_accepts(case: str, catalog: OsCatalog) -> None:
    plan, caps = plans(catalog)[case]
    assert plan_problems(as_chosen(plan), caps, taken=set()) == []
    xml = build_domain(plan, caps).to_xml()
    check_golden(xml, GOLDEN / f"{case}.xml")
    conn = libvirt.open("test:///default")
    try:
        dom = conn.defineXML(xml)
        back = DomainXml(dom.XMLDesc(0))
        assert (back.name, back.memory_mib, back.vcpus) == (plan.name, plan.memory_mib, plan.vcpus)
    finally:
        conn.close()


def test_a_network_install_boots_the_installer_once_then_the_disk(catalog: OsCatalog) -> None:
    plan, caps = plans(catalog)["fedora37-net-kvm-bridge"]
    final = build_domain(plan, caps)
    assert (final.boot_devices, final.kernel, final.interfaces[0].source_bridge) == (["hd"], None, "br0")
    first = install_domain(final, "/var/lib/libvirt/images/fedora-net-installer-kernel",
                           "/var/lib/libvirt/images/fedora-net-installer-initrd", f"inst.repo={plan.install_url}")
    xml = first.to_xml()
    check_golden(xml, GOLDEN / "fedora37-net-kvm-bridge.install.xml")
    assert (first.boot_devices, first.on_reboot) == ([], "destroy")  # the installer's reboot ends this run
    conn = libvirt.open("test:///default")
    try:
        dom = conn.createXML(xml, 0)  # booted once, never defined: the definition stays `final`
        assert not dom.isPersistent()
        dom.destroy()
    finally:
        conn.close()


def test_devices_follow_what_the_os_drives(catalog: OsCatalog) -> None:
    debian, _ = plans(catalog)["debian11-iso-tcg"]
    xp, _ = plans(catalog)["winxp-import-tcg-vnc"]
    modern = build_domain(debian, TCG)
    old = build_domain(xp, TCG)
    assert [d.target_bus for d in modern.disks] == ["virtio", "sata"] and modern.machine == "q35"
    assert modern.boot_devices == ["hd", "cdrom"] and modern.interfaces[0].model == "virtio"
    assert [d.target_bus for d in old.disks] == ["ide"] and old.machine == "pc-i440fx-7.2"  # XP has no AHCI driver
    assert old.find("clock").get("offset") == "localtime"  # type: ignore[union-attr]
    win11, _ = plans(catalog)["win11-iso-kvm-uefi"]
    uefi = build_domain(win11, KVM)
    assert (uefi.firmware, uefi.machine, uefi.cpu_mode) == ("efi", "q35", "host-passthrough")
    assert uefi.find("devices/tpm/backend").get("version") == "2.0"  # type: ignore[union-attr]
    # no swtpm on this host: no TPM rather than XML that cannot start
    assert build_domain(win11, replace(KVM, tpm_backends=("passthrough",))).find("devices/tpm") is None


def test_plans_that_cannot_work_are_explained(catalog: OsCatalog) -> None:
    win11, _ = plans(catalog)["win11-iso-kvm-uefi"]
    problems = plan_problems(replace(win11, name="web 1", memory_mib=100_000, vcpus=9, media=None), TCG,
                             taken={"web-1"})
    assert problems == [
        "Use letters, digits and . _ + - in the name (not first).",
        "100000 MiB is more memory than the host has (8282 MiB).",
        "9 virtual CPUs is more than this host offers (2).",
        "This host has no UEFI firmware for guests (install OVMF on it), so choose BIOS.",
        "Choose the ISO image or CD-ROM to install from.",
    ]
    bios = plan_problems(replace(win11, firmware="bios"), KVM, taken=set())
    assert bios == ["Microsoft Windows 11 needs UEFI firmware."]
    tiny, _ = plans(catalog)["kernel-generic-tcg-headless"]
    assert plan_problems(replace(tiny, kernel=None, graphics="sdl3"), TCG, taken=set()) == [
        "Choose the kernel to boot.", "This host cannot show a SDL3 display."]
    big = replace(tiny, disk=DiskPlan(pool="default", size_gib=500, format="raw"))
    assert plan_problems(big, TCG, taken=set(), pool_free_bytes=10 * 1024 ** 3) == [
        "The pool 'default' has 10.0 GiB free, less than 500 GiB."]


@pytest.mark.parametrize(("name", "problem"), [
    ("", "The guest needs a name."), ("a" * 65, "A name has at most 64 characters."),
    ("-x", "Use letters, digits and . _ + - in the name (not first)."), ("ok-1.b_c+d", None),
    ("taken", "A guest named 'taken' already exists on this host."),
])
def test_names(name: str, problem: str | None) -> None:
    assert name_problem(name, {"taken"}) == problem
