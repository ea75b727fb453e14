"""The domain XML model: typed access to the parts vmgui edits; everything else kept as it was.

`DomainXml(text)` parses libvirt domain XML, `DomainXml.new(...)` starts an empty one. Properties read
and write their element or attribute in place (see xml_node), devices are small wrappers over their
elements, and `to_xml()` gives indented XML. XML the model has no property for (a <numatune>, another
program's <metadata>, an unusual device) stays untouched, in its place.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from typing import TypeVar

from lxml import etree

from vmgui.core.xml_node import Element, FlagProperty, XmlNode, ensure_path, integer, remove_empty, text, yes_no

D = TypeVar("D", bound="Device")

# Where a device of each kind goes among <devices>' children when added, after others of its kind:
# libvirt does not care about the order, people reading the XML do.
_DEVICE_ORDER = ("emulator", "disk", "controller", "filesystem", "interface", "serial", "console", "channel",
                 "input", "tpm", "graphics", "sound", "audio", "video", "redirdev", "hostdev", "watchdog",
                 "memballoon", "rng")


# libvirt's order of a domain's top-level elements; to_xml() puts known ones in it, others stay after
# the element they followed.
_TOP_ORDER = ("name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory", "currentMemory",
              "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads", "cputune", "numatune",
              "resource", "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features", "cpu", "clock",
              "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices", "seclabel",
              "keywrap", "launchSecurity")


class XmlError(ValueError):
    """Text that is not domain XML; the message says where it went wrong."""


def _parse(xml: str) -> Element:
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(xml.encode(), parser)
    except etree.XMLSyntaxError as err:
        raise XmlError(f"The XML is not well formed: {err}") from None
    if root.tag != "domain":
        raise XmlError(f"This is not domain XML: its root element is <{root.tag}>, not <domain>.")
    return root


class Device(XmlNode):
    """One child of <devices>."""

    TAG = ""

    @classmethod
    def new(cls: type[D], **attrs: str) -> D:
        return cls(etree.Element(cls.TAG, {k.rstrip("_"): v for k, v in attrs.items()}))

    address_type = text("address", "type")


class Disk(Device):
    """A <disk>: a hard disk, CD-ROM or floppy, backed by a file, a block device, a pool volume or nothing."""

    TAG = "disk"
    type = text(None, "type")            # file, block, volume, network
    device = text(None, "device")        # disk, cdrom, floppy, lun
    driver_name = text("driver", "name")
    driver_type = text("driver", "type")  # qcow2, raw
    discard = text("driver", "discard")
    source_file = text("source", "file")
    source_dev = text("source", "dev")
    source_pool = text("source", "pool")
    source_volume = text("source", "volume")
    target_dev = text("target", "dev")   # vda, sda, hda
    target_bus = text("target", "bus")   # virtio, sata, scsi, ide, usb
    boot_order = integer("boot", "order")
    readonly = FlagProperty("readonly")
    shareable = FlagProperty("shareable")

    @property
    def source_path(self) -> str | None:
        """The file or block device behind the disk, whichever it has."""
        return self.source_file or self.source_dev

    def set_file(self, path: str | None) -> None:
        """Back the disk with a file (or with nothing: an empty CD-ROM drive)."""
        self.type = "file"
        source = self.find("source")
        if source is not None:
            self.element.remove(source)
        if path:
            el = etree.Element("source", file=path)
            driver = self.find("driver")
            position = self.element.index(driver) + 1 if driver is not None else 0
            self.element.insert(position, el)


class Interface(Device):
    """A network card: on a libvirt network, a host bridge, or user-mode networking."""

    TAG = "interface"
    type = text(None, "type")            # network, bridge, user, direct
    mac = text("mac", "address")
    source_network = text("source", "network")
    source_bridge = text("source", "bridge")
    model = text("model", "type")        # virtio, e1000e, rtl8139
    boot_order = integer("boot", "order")
    link_state = text("link", "state")


class Graphics(Device):
    TAG = "graphics"
    type = text(None, "type")            # vnc, spice
    port = integer(None, "port")
    autoport = yes_no(None, "autoport")
    listen = text(None, "listen")
    passwd = text(None, "passwd")

    def listen_address(self, address: str | None) -> None:
        """Listen on `address` (the attribute and its <listen> child agree), or the host's default."""
        for child in self.element.findall("listen"):
            self.element.remove(child)
        self.listen = address
        if address is not None:
            etree.SubElement(self.element, "listen", type="address", address=address)


class Video(Device):
    TAG = "video"
    model = text("model", "type")        # virtio, qxl, vga, bochs, ramfb, none
    heads = integer("model", "heads")
    vram_kib = integer("model", "vram")


class Sound(Device):
    TAG = "sound"
    model = text(None, "model")          # ich9, ich6, ac97


class Channel(Device):
    """A host-guest channel: the SPICE agent's (spicevmc) or the QEMU guest agent's (unix)."""

    TAG = "channel"
    type = text(None, "type")            # spicevmc, unix, pty
    target_type = text("target", "type")  # virtio, guestfwd
    target_name = text("target", "name")  # com.redhat.spice.0, org.qemu.guest_agent.0


class RedirDev(Device):
    """A USB redirection channel (SPICE)."""

    TAG = "redirdev"
    bus = text(None, "bus")              # usb
    type = text(None, "type")            # spicevmc


class Tpm(Device):
    TAG = "tpm"
    model = text(None, "model")          # tpm-crb, tpm-tis
    backend_type = text("backend", "type")  # emulator, passthrough
    backend_version = text("backend", "version")


class Input(Device):
    TAG = "input"
    type = text(None, "type")            # tablet, mouse, keyboard
    bus = text(None, "bus")              # usb, virtio, ps2


class Controller(Device):
    TAG = "controller"
    type = text(None, "type")            # usb, scsi, virtio-serial, pci, sata
    model = text(None, "model")          # qemu-xhci, virtio-scsi
    index = integer(None, "index")


class Console(Device):
    TAG = "console"
    type = text(None, "type")            # pty
    target_type = text("target", "type")  # serial, virtio


class Serial(Device):
    TAG = "serial"
    type = text(None, "type")


class Rng(Device):
    TAG = "rng"
    model = text(None, "model")          # virtio
    backend_model = text("backend", "model")  # random
    backend = text("backend", None)      # /dev/urandom


DEVICE_CLASSES: dict[str, type[Device]] = {
    cls.TAG: cls for cls in (Disk, Interface, Graphics, Video, Sound, Channel, RedirDev, Tpm, Input, Controller,
                             Console, Serial, Rng)
}


class DomainXml(XmlNode):
    """A libvirt domain's XML as an editable tree."""

    type = text(None, "type")            # kvm, qemu, test
    name = text("name")
    uuid = text("uuid")
    title = text("title")
    description = text("description")
    vcpus = integer("vcpu")
    arch = text("os/type", "arch")
    machine = text("os/type", "machine")
    os_type = text("os/type")            # hvm
    firmware = text("os", "firmware")    # efi (libvirt picks the loader and NVRAM) or None: BIOS
    secure_boot_enabled = yes_no("os/firmware/feature[@name='secure-boot']", "enabled")
    kernel = text("os/kernel")
    initrd = text("os/initrd")
    cmdline = text("os/cmdline")
    boot_menu = yes_no("os/bootmenu", "enable")
    cpu_mode = text("cpu", "mode")       # host-passthrough, host-model, custom, maximum
    acpi = FlagProperty("features/acpi")
    apic = FlagProperty("features/apic")
    on_poweroff = text("on_poweroff")
    on_reboot = text("on_reboot")
    on_crash = text("on_crash")
    emulator = text("devices/emulator")

    def __init__(self, xml: str | Element) -> None:
        super().__init__(_parse(xml) if isinstance(xml, str) else xml)

    @classmethod
    def new(cls, name: str, virt_type: str = "kvm") -> DomainXml:
        """An empty domain: a name, an hvm <os> and an empty <devices>."""
        root = etree.Element("domain", type=virt_type)
        etree.SubElement(root, "name").text = name
        dom = cls(root)
        dom.os_type = "hvm"
        ensure_path(root, "devices")
        return dom

    # ---- memory ---------------------------------------------------------------------------------

    @property
    def memory_mib(self) -> int | None:
        """The guest's maximum memory (<memory>) in MiB, whatever unit the XML uses."""
        return _read_size_mib(self.find("memory"))

    @memory_mib.setter
    def memory_mib(self, mib: int | None) -> None:
        _write_size_mib(self, "memory", mib)

    @property
    def current_memory_mib(self) -> int | None:
        return _read_size_mib(self.find("currentMemory"))

    @current_memory_mib.setter
    def current_memory_mib(self, mib: int | None) -> None:
        _write_size_mib(self, "currentMemory", mib)

    # ---- boot ------------------------------------------------------------------------------------

    @property
    def boot_devices(self) -> list[str]:
        """The <os><boot dev=...> order: hd, cdrom, network, fd."""
        return [b.get("dev", "") for b in self.element.findall("os/boot")]

    @boot_devices.setter
    def boot_devices(self, devices: list[str]) -> None:
        os_el = ensure_path(self.element, "os")
        for old in os_el.findall("boot"):
            os_el.remove(old)
        anchor = os_el.find("type")
        for kernel_part in ("loader", "nvram", "kernel", "initrd", "cmdline"):
            found = os_el.find(kernel_part)
            if found is not None:
                anchor = found
        position = os_el.index(anchor) + 1 if anchor is not None else 0
        for i, dev in enumerate(devices):
            os_el.insert(position + i, etree.Element("boot", dev=dev))

    def set_direct_kernel_boot(self, kernel: str | None, initrd: str | None = None, cmdline: str | None = None) -> None:
        """Boot a kernel file directly (or stop doing so when `kernel` is None)."""
        self.kernel = kernel
        self.initrd = initrd if kernel else None
        self.cmdline = cmdline if kernel else None

    # ---- metadata -----------------------------------------------------------------------------------

    def metadata_element(self, namespace: str) -> Element | None:
        """The child of <metadata> in `namespace` (each program owns one), if present."""
        metadata = self.find("metadata")
        if metadata is None:
            return None
        return next((child for child in metadata if isinstance(child.tag, str)
                     and etree.QName(child).namespace == namespace), None)

    def set_metadata_element(self, element: Element) -> None:
        """Put `element` into <metadata>, replacing the one of its namespace."""
        namespace = etree.QName(element).namespace
        if namespace is None:
            raise ValueError("a metadata element needs a namespace of its own")
        old = self.metadata_element(namespace)
        metadata = old.getparent() if old is not None else self._child_in_order("metadata")
        assert metadata is not None
        if old is not None:
            metadata.replace(old, element)
        else:
            metadata.append(element)

    def _child_in_order(self, tag: str) -> Element:
        """The top-level child `tag`, created after name/uuid/title/description where missing."""
        found = self.find(tag)
        if found is not None:
            return found
        position = 0
        for i, child in enumerate(self.element):
            if child.tag in ("name", "uuid", "genid", "title", "description"):
                position = i + 1
        el = etree.Element(tag)
        self.element.insert(position, el)
        return el

    # ---- devices --------------------------------------------------------------------------------------

    @property
    def devices_element(self) -> Element:
        return ensure_path(self.element, "devices")

    def devices(self, kind: builtins.type[D]) -> list[D]:
        """Every device of one kind, in document order."""
        found = self.element.find("devices")
        if found is None:
            return []
        return [kind(el) for el in found.findall(kind.TAG)]

    def all_devices(self) -> Iterator[Device]:
        """Every device the model knows, in document order (others are skipped)."""
        found = self.element.find("devices")
        for el in found if found is not None else ():
            cls = DEVICE_CLASSES.get(el.tag) if isinstance(el.tag, str) else None
            if cls is not None:
                yield cls(el)

    def add_device(self, device: D) -> D:
        """Add `device` after the last device of its kind (or where its kind belongs)."""
        devices = self.devices_element
        tag = device.element.tag
        rank = _DEVICE_ORDER.index(tag) if tag in _DEVICE_ORDER else len(_DEVICE_ORDER)
        position = 0
        for i, child in enumerate(devices):
            child_tag = child.tag if isinstance(child.tag, str) else ""
            child_rank = _DEVICE_ORDER.index(child_tag) if child_tag in _DEVICE_ORDER else len(_DEVICE_ORDER)
            if child_rank <= rank:
                position = i + 1
        devices.insert(position, device.element)
        return device

    def remove_device(self, device: Device) -> None:
        parent = device.element.getparent()
        if parent is not None:
            parent.remove(device.element)

    @property
    def disks(self) -> list[Disk]:
        return self.devices(Disk)

    @property
    def interfaces(self) -> list[Interface]:
        return self.devices(Interface)

    @property
    def graphics(self) -> list[Graphics]:
        return self.devices(Graphics)

    def next_target_dev(self, bus: str) -> str:
        """A free disk target name for `bus`: vda, vdb... for virtio, sda... for sata/scsi/usb, hda... for ide."""
        prefix = {"virtio": "vd", "ide": "hd", "fdc": "fd", "xen": "xvd"}.get(bus, "sd")
        used = {d.target_dev for d in self.disks}
        for n in range(26 * 27):
            name = prefix + _disk_letters(n)
            if name not in used:
                return name
        raise ValueError(f"no free {bus} disk name is left")

    # ---- output ----------------------------------------------------------------------------------------

    def to_xml(self) -> str:
        """The XML in libvirt's element order, indented two spaces, without an XML declaration (as libvirt
        writes it)."""
        rank = 0
        ranked = []
        for i, child in enumerate(self.element):
            if isinstance(child.tag, str) and child.tag in _TOP_ORDER:
                rank = _TOP_ORDER.index(child.tag)
            ranked.append((rank, i, child))
        ranked.sort(key=lambda item: (item[0], item[1]))
        self.element[:] = [child for _rank, _i, child in ranked]
        etree.indent(self.element, space="  ")
        return etree.tostring(self.element, encoding="unicode") + "\n"

    def copy(self) -> DomainXml:
        return DomainXml(self.to_xml())


def _disk_letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa, as libvirt names disks."""
    letters = ""
    n += 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(ord("a") + rem) + letters
    return letters


_UNITS_KIB = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "kb": 1000 / 1024, "m": 1024, "mib": 1024,
              "mb": 1000 ** 2 / 1024, "g": 1024 ** 2, "gib": 1024 ** 2, "gb": 1000 ** 3 / 1024,
              "t": 1024 ** 3, "tib": 1024 ** 3, "tb": 1000 ** 4 / 1024}


def _read_size_mib(el: Element | None) -> int | None:
    if el is None or not (el.text or "").strip():
        return None
    unit = el.get("unit", "KiB").lower()
    if unit not in _UNITS_KIB:
        raise XmlError(f"<{el.tag}> has an unknown unit '{el.get('unit')}'.")
    return int(int(el.text.strip()) * _UNITS_KIB[unit]) // 1024  # type: ignore[union-attr]


def _write_size_mib(dom: DomainXml, tag: str, mib: int | None) -> None:
    if mib is None:
        el = dom.find(tag)
        if el is not None:
            dom.element.remove(el)
            remove_empty(dom.element, tag)
        return
    el = dom.find(tag)
    if el is None:
        el = etree.Element(tag)
        anchor = None
        for before in ("memory", "maxMemory", "description", "title", "uuid", "name"):
            anchor = dom.find(before)
            if anchor is not None:
                break
        dom.element.insert(dom.element.index(anchor) + 1 if anchor is not None else 0, el)
    el.set("unit", "MiB")
    el.text = str(int(mib))
