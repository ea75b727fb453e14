"""A new guest as the wizard's choices (NewGuestPlan), checked (plan_problems) and turned into domain XML.

The XML follows what virt-manager/virt-install generate for the same choices, with the host's
capabilities deciding what is possible (HostCaps) and libosinfo what the OS can drive (OsInfo).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from lxml import etree

from vmgui.core.domain_xml import (
    Channel,
    Console,
    Controller,
    Disk,
    DomainXml,
    Graphics,
    Input,
    Interface,
    RedirDev,
    Rng,
    Sound,
    Tpm,
    Video,
)
from vmgui.core.host_caps import HostCaps
from vmgui.core.host_networks import NetworkOption
from vmgui.core.osinfo import OsInfo

LIBOSINFO_NS = "http://libosinfo.org/xmlns/libvirt/domain/1.0"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
MAX_NAME = 64


class InstallMethod(Enum):
    MEDIA = "media"          # boot an ISO file (or a host CD-ROM) and install from it
    NETWORK = "network"      # boot the installer of an install tree on a mirror (http, https, ftp)
    IMPORT = "import"        # boot an existing disk image
    MANUAL = "manual"        # a blank disk, boot from the network (PXE) or install later
    KERNEL = "kernel"        # boot a kernel and initrd directly (no bootloader)

    @property
    def label(self) -> str:
        return {
            InstallMethod.MEDIA: "Local install media (ISO image or CD-ROM)",
            InstallMethod.NETWORK: "Network install (an install tree's HTTP, HTTPS or FTP URL)",
            InstallMethod.IMPORT: "Import an existing disk image",
            InstallMethod.MANUAL: "Manual install or network boot (PXE)",
            InstallMethod.KERNEL: "Direct kernel boot (a kernel and initrd on the host)",
        }[self]


@dataclass
class DiskPlan:
    """The guest's main disk: a new image in a pool, or an existing image (import, or reuse)."""

    pool: str | None = None         # create a new image in this pool
    size_gib: float = 0.0
    path: str | None = None         # an existing image; also filled with the new image's path once made
    format: str = "qcow2"

    @property
    def is_new(self) -> bool:
        return self.pool is not None and self.path is None


@dataclass
class NewGuestPlan:
    name: str
    method: InstallMethod
    os: OsInfo
    memory_mib: int
    vcpus: int
    disk: DiskPlan | None = None
    media: str | None = None        # ISO path or host CD-ROM device (MEDIA)
    install_url: str | None = None  # the install tree (NETWORK); `cmdline` adds to the installer's arguments
    kernel: str | None = None       # (KERNEL)
    initrd: str | None = None
    cmdline: str | None = None
    network: NetworkOption | None = None
    firmware: str = "bios"          # "bios" or "efi"
    graphics: str = "spice"         # "spice", "vnc" or "none"
    title: str = ""


def name_problem(name: str, taken: set[str]) -> str | None:
    """Why `name` cannot name a new guest on this host, or None."""
    if not name:
        return "The guest needs a name."
    if len(name) > MAX_NAME:
        return f"A name has at most {MAX_NAME} characters."
    if not _NAME.match(name):
        return "Use letters, digits and . _ + - in the name (not first)."
    if name in taken:
        return f"A guest named '{name}' already exists on this host."
    return None


def free_name(base: str, taken: set[str] | frozenset[str]) -> str:
    """`base` if no guest has it, else base-2, base-3... (the first free one)."""
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def plan_problems(plan: NewGuestPlan, caps: HostCaps, *, taken: set[str], pool_free_bytes: int | None = None,
                  path_exists: bool | None = None) -> list[str]:
    """What stops this plan on this host, as sentences for the user (empty: it can be created)."""
    problems = []
    name = name_problem(plan.name, taken)
    if name:
        problems.append(name)
    if plan.memory_mib < 16:
        problems.append("Give the guest at least 16 MiB of memory.")
    elif plan.memory_mib > caps.host_memory_mib:
        problems.append(f"{plan.memory_mib} MiB is more memory than the host has ({caps.host_memory_mib} MiB).")
    limit = min(caps.host_cpus, caps.max_vcpus or caps.host_cpus) if caps.host_cpus else caps.max_vcpus
    if plan.vcpus < 1:
        problems.append("Give the guest at least one virtual CPU.")
    elif limit and plan.vcpus > limit:
        problems.append(f"{plan.vcpus} virtual CPUs is more than this host offers ({limit}).")
    if plan.firmware == "efi" and not caps.supports_uefi():
        problems.append("This host has no UEFI firmware for guests (install OVMF on it), so choose BIOS.")
    if plan.os.efi_only and plan.firmware != "efi":
        problems.append(f"{plan.os.name} needs UEFI firmware.")
    if plan.method is InstallMethod.MEDIA and not plan.media:
        problems.append("Choose the ISO image or CD-ROM to install from.")
    if plan.method is InstallMethod.NETWORK and not plan.install_url:
        problems.append("Give the install tree's URL.")
    if plan.method is InstallMethod.NETWORK and (plan.disk is None or not plan.disk.is_new):
        problems.append("A network install needs a new disk image (the installer is put in its pool).")
    if plan.method is InstallMethod.KERNEL and not plan.kernel:
        problems.append("Choose the kernel to boot.")
    if plan.method is InstallMethod.IMPORT and (plan.disk is None or not plan.disk.path):
        problems.append("Choose the disk image to import.")
    if path_exists is False:
        problems.append("The file chosen does not exist on the host.")
    disk = plan.disk
    if disk is not None and disk.is_new:
        if disk.size_gib <= 0:
            problems.append("Give the new disk a size above 0 GiB.")
        elif pool_free_bytes is not None and disk.format == "raw" and disk.size_gib * 1024 ** 3 > pool_free_bytes:
            problems.append(f"The pool '{disk.pool}' has {pool_free_bytes / 1024 ** 3:.1f} GiB free, less than "
                            f"{disk.size_gib:g} GiB.")
    if plan.graphics != "none" and plan.graphics not in caps.graphics_types:
        problems.append(f"This host cannot show a {plan.graphics.upper()} display.")
    return problems


def new_disk_name(guest_name: str, fmt: str = "qcow2") -> str:
    return f"{guest_name}.{fmt}"


def build_domain(plan: NewGuestPlan, caps: HostCaps) -> DomainXml:
    """The domain XML for `plan` on a host with `caps`; the new disk's path must be known (plan.disk.path).

    On first boot a blank disk is not bootable, so an ISO install boots from the disk first and falls
    back to the CD-ROM; once installed the guest boots its disk, as after virt-install's reboot. A
    network install's installer boots once with install_domain(); this is the guest after it.
    """
    os = plan.os
    dom = DomainXml.new(plan.name, caps.virt_type)
    if plan.title:
        dom.title = plan.title
    _set_os_metadata(dom, os)
    dom.memory_mib = plan.memory_mib
    dom.current_memory_mib = plan.memory_mib
    dom.vcpus = plan.vcpus
    dom.arch = caps.arch
    dom.machine = _machine(caps, os)
    q35 = "q35" in (dom.machine or "")
    if plan.firmware == "efi":
        dom.firmware = "efi"
    if plan.method is InstallMethod.KERNEL:
        dom.set_direct_kernel_boot(plan.kernel, plan.initrd, plan.cmdline)
    elif plan.method is InstallMethod.MANUAL:
        dom.boot_devices = ["hd", "network"]
    elif plan.method is InstallMethod.MEDIA:
        dom.boot_devices = ["hd", "cdrom"]
    else:
        dom.boot_devices = ["hd"]
    dom.acpi = True
    dom.apic = True
    if caps.virt_type == "kvm":
        dom.cpu_mode = "host-passthrough"
    clock = etree.SubElement(dom.element, "clock", offset="localtime" if os.family == "winnt" else "utc")
    if caps.virt_type == "kvm":
        etree.SubElement(clock, "timer", name="rtc", tickpolicy="catchup")
        etree.SubElement(clock, "timer", name="pit", tickpolicy="delay")
        etree.SubElement(clock, "timer", name="hpet", present="no")
    dom.on_poweroff = "destroy"
    dom.on_reboot = "restart"
    dom.on_crash = "destroy"
    if caps.emulator:
        dom.emulator = caps.emulator

    bus = caps.best_disk_bus(os.virtio_block)
    if bus == "sata" and not q35 and "ide" in caps.disk_buses:
        bus = "ide"  # the i440fx machine has no AHCI of its own, and OSes of its age no AHCI driver
    if plan.disk is not None and plan.disk.path:
        disk = dom.add_device(Disk.new(type="file", device="disk"))
        driver = etree.SubElement(disk.element, "driver", name="qemu", type=plan.disk.format)
        if plan.disk.format == "qcow2":
            driver.set("discard", "unmap")
        disk.set_file(plan.disk.path)
        disk.target_dev = dom.next_target_dev(bus)
        disk.target_bus = bus
    if plan.method is InstallMethod.MEDIA and plan.media:
        cd_bus = "sata" if "sata" in caps.disk_buses and q35 else "ide" if "ide" in caps.disk_buses else bus
        cdrom = dom.add_device(Disk.new(type="block" if plan.media.startswith("/dev/") else "file", device="cdrom"))
        etree.SubElement(cdrom.element, "driver", name="qemu", type="raw")
        if plan.media.startswith("/dev/"):
            etree.SubElement(cdrom.element, "source", dev=plan.media)
        else:
            cdrom.set_file(plan.media)
        cdrom.target_dev = dom.next_target_dev(cd_bus)
        cdrom.target_bus = cd_bus
        cdrom.readonly = True

    spice = plan.graphics == "spice"
    if q35 or os.virtio_block:  # USB 3 for OSes with modern drivers (the tablet, redirected devices)
        usb = dom.add_device(Controller.new(type="usb", model="qemu-xhci"))
        usb.element.set("ports", "15")
    elif os.usb_tablet or spice:
        dom.add_device(Controller.new(type="usb", model="piix3-uhci"))  # what i440fx has, said explicitly
    if plan.network is not None:
        nic = dom.add_device(Interface.new(type=plan.network.kind))
        if plan.network.source:
            etree.SubElement(nic.element, "source", {plan.network.kind: plan.network.source})
        nic.model = "virtio" if os.virtio_net else "e1000e" if q35 else "e1000"
    if os.family != "winnt":
        console = dom.add_device(Console.new(type="pty"))
        console.target_type = "serial"
    if spice:
        agent = dom.add_device(Channel.new(type="spicevmc"))
        agent.target_type, agent.target_name = "virtio", "com.redhat.spice.0"
    if os.virtio_block or os.virtio_net:  # the guest agent's channel is virtio-serial
        qga = dom.add_device(Channel.new(type="unix"))
        qga.target_type, qga.target_name = "virtio", "org.qemu.guest_agent.0"
    if os.usb_tablet:
        dom.add_device(Input.new(type="tablet", bus="usb"))
    if os.efi_only and "emulator" in caps.tpm_backends and caps.tpm_models:
        tpm = dom.add_device(Tpm.new(model="tpm-crb" if "tpm-crb" in caps.tpm_models else caps.tpm_models[0]))
        tpm.backend_type, tpm.backend_version = "emulator", "2.0"
    if plan.graphics != "none":
        graphics = dom.add_device(Graphics.new(type=plan.graphics))
        graphics.autoport = True
    if spice:
        dom.add_device(Sound.new(model="ich9" if q35 else "ich6"))
    if plan.graphics != "none":
        video = dom.add_device(Video.new())
        video.model = _video_model(caps, os, spice)
    else:
        dom.add_device(Video.new()).model = "none"
    if spice and "usb" in caps.redirdev_buses:
        for _ in range(2):
            dom.add_device(RedirDev.new(bus="usb", type="spicevmc"))
    if os.virtio_block or os.virtio_net:
        rng = dom.add_device(Rng.new(model="virtio"))
        etree.SubElement(rng.element, "backend", model="random").text = "/dev/urandom"
    return dom


def install_domain(final: DomainXml, kernel: str, initrd: str, cmdline: str) -> DomainXml:
    """The guest as its installer boots once (network install): the installer's kernel, and when it
    reboots the guest stops, so that its next start is the installed system (`final`)."""
    dom = final.copy()
    dom.boot_devices = []
    dom.set_direct_kernel_boot(kernel, initrd, cmdline or None)
    dom.on_reboot = "destroy"
    return dom


def _machine(caps: HostCaps, os: OsInfo) -> str | None:
    """q35 for OSes that drive modern devices, as virt-manager does; the host's default otherwise."""
    if (os.virtio_block or os.efi_only) and "q35" in caps.machines:
        return "q35"
    return caps.machine or None


def _video_model(caps: HostCaps, os: OsInfo, spice: bool) -> str:
    prefer = []
    if os.virtio_gpu:
        prefer.append("virtio")
    if spice and os.qxl:
        prefer.append("qxl")
    prefer += ["bochs", "vga"] if os.family != "winnt" else ["vga"]
    return caps.best_video(prefer)


def _set_os_metadata(dom: DomainXml, os: OsInfo) -> None:
    """Name the OS in libosinfo's metadata element, as virt-manager and GNOME Boxes do."""
    if not os.os_id:
        return
    holder = etree.Element(f"{{{LIBOSINFO_NS}}}libosinfo", nsmap={"libosinfo": LIBOSINFO_NS})
    etree.SubElement(holder, f"{{{LIBOSINFO_NS}}}os", id=os.os_id)
    dom.set_metadata_element(holder)
