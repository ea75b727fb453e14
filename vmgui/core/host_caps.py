"""What a host can run (arch, machines, firmware, devices), so the New Guest wizard offers nothing else.

Three libvirt answers make a `HostCaps`: `getCapabilities()` (the host's arch and, per guest arch, the
emulator, machine types and domain types), `getDomainCapabilities()` for the chosen arch and domain
type (firmware, disk buses, displays, video, TPM...) and `getInfo()` (memory, CPUs). Parsing is kept
apart from the libvirt calls (`parse_capabilities`, `parse_domain_caps`, `build_host_caps`) so it is
tested on saved XML.

KVM: libvirt lists a 'kvm' domain type whenever /dev/kvm opens, but some sandboxes hand out a
/dev/kvm that cannot run a real guest, and their CPUs show neither VT-x nor AMD-V. On x86 hosts the
host CPU (expanded by libvirt to its full feature list) must have vmx or svm too, else 'qemu' (TCG).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import libvirt

from vmgui.core.errors import VmguiError, libvirt_message

X86_ARCHES: frozenset[str] = frozenset({"i686", "x86_64"})
# Which domain type to prefer when a guest arch lists several; the rest follow in the host's order.
_VIRT_TYPE_ORDER: tuple[str, ...] = ("kvm", "qemu")
# CPU features that KVM needs on x86 (Intel VT-x, AMD-V).
_VIRT_EXTENSIONS: frozenset[str] = frozenset({"vmx", "svm"})


class UnsupportedGuestError(VmguiError):
    """The host cannot run guests of the asked arch (or of any domain type it lists for it)."""


# ---------------------------------------------------------------------------------------------
# getCapabilities()


@dataclass(frozen=True)
class Machine:
    """One <machine> of a guest arch: a name, the name it stands for if an alias, its vCPU limit."""

    name: str
    canonical: str | None = None
    max_cpus: int | None = None


@dataclass(frozen=True)
class GuestDomain:
    """One way to run guests of an arch: an OS type ('hvm', 'xen', 'exe') with one domain type."""

    os_type: str
    arch: str
    virt_type: str
    emulator: str | None
    machines: tuple[Machine, ...]

    def machine_names(self) -> tuple[str, ...]:
        """Every machine name in the host's order (default first), aliases and canonical names alike."""
        names: list[str] = []
        for machine in self.machines:
            for name in (machine.name, machine.canonical):
                if name and name not in names:
                    names.append(name)
        return tuple(names)

    def default_machine(self) -> Machine | None:
        """The first machine listed, which libvirt makes the emulator's default."""
        return self.machines[0] if self.machines else None


@dataclass(frozen=True)
class Capabilities:
    """The parts of getCapabilities() that say what the host can run."""

    host_arch: str
    host_cpu_xml: str | None  # the host <cpu>, when it names a model (libvirt can expand it then)
    guests: tuple[GuestDomain, ...]

    def guest_arches(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(g.arch for g in self.guests))

    def candidates(self, arch: str) -> list[GuestDomain]:
        """The ways to run `arch` guests, best first: 'hvm' before other OS types, then kvm, qemu, others."""
        found = [g for g in self.guests if g.arch == arch]

        def rank(item: tuple[int, GuestDomain]) -> tuple[int, int, int]:
            index, guest = item
            order = (_VIRT_TYPE_ORDER.index(guest.virt_type) if guest.virt_type in _VIRT_TYPE_ORDER
                     else len(_VIRT_TYPE_ORDER))
            return (guest.os_type != "hvm", order, index)

        return [g for _, g in sorted(enumerate(found), key=rank)]


def _text(element: ET.Element | None) -> str | None:
    if element is None or element.text is None or not element.text.strip():
        return None
    return element.text.strip()


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _machines(parent: ET.Element) -> tuple[Machine, ...]:
    machines = []
    for element in parent.findall("machine"):
        name = _text(element)
        if name:
            machines.append(Machine(name, element.get("canonical"), _int(element.get("maxCpus"))))
    return tuple(machines)


def parse_capabilities(xml: str) -> Capabilities:
    """Read getCapabilities() XML: the host arch and CPU, and every (OS type, arch, domain type)."""
    root = ET.fromstring(xml)
    cpu = root.find("host/cpu")
    host_arch = _text(root.find("host/cpu/arch")) or ""
    host_cpu_xml = (ET.tostring(cpu, encoding="unicode")
                    if cpu is not None and _text(cpu.find("model")) else None)
    guests: list[GuestDomain] = []
    for guest in root.findall("guest"):
        arch = guest.find("arch")
        if arch is None or not arch.get("name"):
            continue
        os_type = _text(guest.find("os_type")) or "hvm"
        emulator = _text(arch.find("emulator"))
        machines = _machines(arch)
        for domain in arch.findall("domain"):
            virt_type = domain.get("type")
            if not virt_type:
                continue
            # A domain type may name its own emulator and machines (old qemu-kvm binaries did).
            guests.append(GuestDomain(os_type=os_type, arch=arch.get("name", ""), virt_type=virt_type,
                                      emulator=_text(domain.find("emulator")) or emulator,
                                      machines=_machines(domain) or machines))
    return Capabilities(host_arch, host_cpu_xml, tuple(guests))


def cpu_has_virt_extensions(cpu_xml: str) -> bool:
    """True when an (expanded) x86 <cpu> has VT-x or AMD-V: 'vmx' or 'svm' not disabled."""
    root = ET.fromstring(cpu_xml)
    return any(feature.get("name") in _VIRT_EXTENSIONS and feature.get("policy") not in ("disable", "forbid")
               for feature in root.findall("feature"))


# ---------------------------------------------------------------------------------------------
# getDomainCapabilities()


@dataclass(frozen=True)
class DomainCaps:
    """The parts of getDomainCapabilities() the New Guest wizard needs."""

    emulator: str | None
    virt_type: str | None
    machine: str | None
    arch: str | None
    max_vcpus: int | None
    firmware: tuple[str, ...]  # "bios" on x86, then "efi" when the host has UEFI firmware
    loaders: tuple[str, ...]  # firmware images libvirt knows (OVMF paths)
    secure_boot: bool
    disk_buses: tuple[str, ...]
    disk_devices: tuple[str, ...]
    graphics_types: tuple[str, ...]
    video_models: tuple[str, ...]
    tpm_models: tuple[str, ...]
    tpm_backends: tuple[str, ...]
    redirdev_buses: tuple[str, ...]


def _supported(element: ET.Element | None) -> bool:
    return element is not None and element.get("supported", "yes") == "yes"


def _enum(block: ET.Element | None, name: str) -> tuple[str, ...]:
    """The values of <enum name=...> in a block that is supported; nothing when it is not."""
    if not _supported(block):
        return ()
    assert block is not None
    for enum in block.findall("enum"):
        if enum.get("name") == name:
            return tuple(v for v in (_text(value) for value in enum.findall("value")) if v)
    return ()


def _firmware(arch: str | None, efi: bool) -> tuple[str, ...]:
    return (("bios",) if arch in X86_ARCHES else ()) + (("efi",) if efi else ())


def parse_domain_caps(xml: str) -> DomainCaps:
    """Read getDomainCapabilities() XML (one emulator, arch, machine and domain type)."""
    root = ET.fromstring(xml)
    arch = _text(root.find("arch"))
    os_block = root.find("os")
    loader = os_block.find("loader") if _supported(os_block) and os_block is not None else None
    loaders = (tuple(v for v in (_text(value) for value in loader.findall("value")) if v)
               if _supported(loader) and loader is not None else ())
    efi = "efi" in _enum(os_block, "firmware") or bool(loaders)
    vcpu = root.find("vcpu")

    def devices(name: str) -> ET.Element | None:
        return root.find(f"devices/{name}")

    return DomainCaps(
        emulator=_text(root.find("path")),
        virt_type=_text(root.find("domain")),
        machine=_text(root.find("machine")),
        arch=arch,
        max_vcpus=_int(vcpu.get("max")) if vcpu is not None else None,
        firmware=_firmware(arch, efi),
        loaders=loaders,
        secure_boot=efi and "yes" in _enum(loader, "secure"),
        disk_buses=_enum(devices("disk"), "bus"),
        disk_devices=_enum(devices("disk"), "diskDevice"),
        graphics_types=_enum(devices("graphics"), "type"),
        video_models=_enum(devices("video"), "modelType"),
        tpm_models=_enum(devices("tpm"), "model"),
        tpm_backends=_enum(devices("tpm"), "backendModel"),
        redirdev_buses=_enum(devices("redirdev"), "bus"),
    )


def fallback_domain_caps(guest: GuestDomain) -> DomainCaps:
    """Conservative guesses for drivers without getDomainCapabilities (the test driver): BIOS, no TPM."""
    machine = guest.default_machine()
    return DomainCaps(
        emulator=guest.emulator, virt_type=guest.virt_type,
        machine=(machine.canonical or machine.name) if machine else None, arch=guest.arch,
        max_vcpus=machine.max_cpus if machine else None,
        firmware=_firmware(guest.arch, efi=False), loaders=(), secure_boot=False,
        disk_buses=("virtio", "sata", "ide", "scsi", "usb"), disk_devices=("disk", "cdrom"),
        graphics_types=("vnc", "spice"), video_models=("vga", "qxl", "virtio", "cirrus"),
        tpm_models=(), tpm_backends=(), redirdev_buses=("usb",),
    )


# ---------------------------------------------------------------------------------------------
# HostCaps


@dataclass(frozen=True)
class HostCaps:
    """What one host can run for one guest arch and domain type: the New Guest wizard's choices."""

    driver: str  # "qemu", "test", ... (conn.getType().lower())
    virt_type: str  # "kvm" when usable, else "qemu"; "test" on the test driver
    arch: str  # "x86_64"
    machine: str  # the default machine type (domcaps <machine>, e.g. "pc-i440fx-7.2"); "" if none listed
    machines: tuple[str, ...]  # every machine type for this arch and domain type, aliases ("pc", "q35") too
    emulator: str | None  # /usr/bin/qemu-system-x86_64
    max_vcpus: int | None
    host_memory_mib: int
    host_cpus: int
    firmware: tuple[str, ...]  # "bios" on x86; "efi" when the host has UEFI firmware
    secure_boot: bool
    disk_buses: tuple[str, ...]
    disk_devices: tuple[str, ...]  # disk, cdrom, floppy, lun
    graphics_types: tuple[str, ...]  # vnc, spice, ...
    video_models: tuple[str, ...]  # vga, qxl, virtio, ...
    tpm_models: tuple[str, ...]
    tpm_backends: tuple[str, ...]  # passthrough, emulator
    redirdev_buses: tuple[str, ...]  # usb
    has_kvm: bool  # KVM is usable for this arch (then virt_type is "kvm")
    os_type: str = "hvm"  # <os><type>: "hvm" for full virtualization
    loaders: tuple[str, ...] = ()  # UEFI firmware images libvirt lists (OVMF paths)

    def supports_uefi(self) -> bool:
        return "efi" in self.firmware

    def best_video(self, prefer: Sequence[str] = ("virtio", "qxl", "vga")) -> str:
        """The first model of `prefer` the host has; "vga" when it has none of them."""
        return next((model for model in prefer if model in self.video_models), "vga")

    def best_disk_bus(self, virtio_ok: bool) -> str:
        """"virtio" when the guest has drivers for it and the host offers it, else "sata", else "ide"."""
        if virtio_ok and "virtio" in self.disk_buses:
            return "virtio"
        return "sata" if "sata" in self.disk_buses else "ide"


def build_host_caps(driver: str, guest: GuestDomain, domcaps: DomainCaps, *,
                    host_memory_mib: int, host_cpus: int) -> HostCaps:
    """Combine one way to run guests (from getCapabilities) with its domain capabilities."""
    default = guest.default_machine()
    machine = domcaps.machine or ((default.canonical or default.name) if default else "")
    max_vcpus = domcaps.max_vcpus
    if max_vcpus is None:
        max_vcpus = next((m.max_cpus for m in guest.machines if machine in (m.name, m.canonical)), None)
    virt_type = domcaps.virt_type or guest.virt_type
    return HostCaps(
        driver=driver, virt_type=virt_type, arch=domcaps.arch or guest.arch, machine=machine,
        machines=guest.machine_names(), emulator=domcaps.emulator or guest.emulator, max_vcpus=max_vcpus,
        host_memory_mib=host_memory_mib, host_cpus=host_cpus, firmware=domcaps.firmware,
        secure_boot=domcaps.secure_boot, disk_buses=domcaps.disk_buses, disk_devices=domcaps.disk_devices,
        graphics_types=domcaps.graphics_types, video_models=domcaps.video_models,
        tpm_models=domcaps.tpm_models, tpm_backends=domcaps.tpm_backends,
        redirdev_buses=domcaps.redirdev_buses, has_kvm=virt_type == "kvm", os_type=guest.os_type,
        loaders=domcaps.loaders,
    )


def _kvm_runs(conn: libvirt.virConnect, caps: Capabilities) -> bool:
    """Whether the host CPU can run KVM guests (blocking). Only x86 is checked; unknown means yes."""
    if caps.host_arch not in X86_ARCHES or caps.host_cpu_xml is None:
        return True
    try:
        expanded = conn.baselineCPU([caps.host_cpu_xml], libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
    except libvirt.libvirtError:
        return True  # cannot tell: trust libvirt's 'kvm' domain type
    return cpu_has_virt_extensions(expanded)


def read_host_caps(conn: libvirt.virConnect, arch: str | None = None) -> HostCaps:
    """What `conn`'s host can run for `arch` (default: the host's arch), KVM if usable (blocking).

    Raises UnsupportedGuestError when the host runs no guests of that arch; libvirt errors about the
    connection itself propagate as libvirt.libvirtError.
    """
    driver = conn.getType().lower()
    caps = parse_capabilities(conn.getCapabilities())
    info = conn.getInfo()
    arch = arch or caps.host_arch
    candidates = caps.candidates(arch)
    if not candidates:
        others = ", ".join(caps.guest_arches())
        raise UnsupportedGuestError(f"This host cannot run {arch} guests"
                                    + (f" (it runs {others} guests)." if others else "."))
    host = {"host_memory_mib": int(info[1]), "host_cpus": int(info[2])}
    problem = ""
    for guest in candidates:
        if guest.virt_type == "kvm" and not _kvm_runs(conn, caps):
            problem = "KVM is listed, but the host CPU has neither VT-x nor AMD-V."
            continue
        try:
            xml = conn.getDomainCapabilities(guest.emulator, arch, None, guest.virt_type, 0)
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT:
                return build_host_caps(driver, guest, fallback_domain_caps(guest), **host)
            if not conn.isAlive():
                raise  # the connection broke: not a fact about the host
            problem = libvirt_message(err)
            continue
        return build_host_caps(driver, guest, parse_domain_caps(xml), **host)
    raise UnsupportedGuestError(f"This host cannot run {arch} guests: {problem}")
