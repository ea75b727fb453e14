"""The domain XML model: typed reads and writes, unknown XML kept, devices, metadata and output."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from vmgui.core.domain_xml import Channel, Disk, DomainXml, Graphics, Interface, Video, XmlError

# A guest as a real host keeps it, with parts the model has no property for.
GUEST = """<domain type='kvm' id='3'>
  <name>web-1</name>
  <uuid>0e5fd6ac-4f7a-4b0a-8a8c-1d2b3c4d5e6f</uuid>
  <title>Web server</title>
  <metadata>
    <app1:foo xmlns:app1="http://app1.org/app1/">..</app1:foo>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/11"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='GiB'>2</memory>
  <currentMemory unit='KiB'>1048576</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <numatune><memory mode='strict' nodeset='0'/></numatune>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='/var/lib/libvirt/images/web-1.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x04' slot='0x00' function='0x0'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='52:54:00:12:34:56'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>
    <graphics type='spice' autoport='yes'><listen type='address'/><image compression='off'/></graphics>
    <video><model type='virtio' heads='1' primary='yes'/></video>
    <watchdog model='i6300esb' action='reset'/>
  </devices>
</domain>
"""


def test_reads_the_parts_it_knows() -> None:
    dom = DomainXml(GUEST)
    assert (dom.type, dom.name, dom.title, dom.description) == ("kvm", "web-1", "Web server", None)
    assert (dom.memory_mib, dom.current_memory_mib, dom.vcpus) == (2048, 1024, 2)
    assert (dom.arch, dom.machine, dom.os_type, dom.firmware) == ("x86_64", "pc-q35-7.2", "hvm", None)
    assert dom.boot_devices == ["hd"] and dom.cpu_mode == "host-passthrough"
    assert dom.acpi and dom.apic and dom.kernel is None
    vda, cdrom = dom.disks
    assert (vda.device, vda.driver_type, vda.source_path, vda.target_dev, vda.target_bus) == \
        ("disk", "qcow2", "/var/lib/libvirt/images/web-1.qcow2", "vda", "virtio")
    assert vda.address_type == "pci" and not vda.readonly
    assert cdrom.device == "cdrom" and cdrom.source_path is None and cdrom.readonly
    nic, = dom.interfaces
    assert (nic.type, nic.source_network, nic.model, nic.mac) == ("network", "default", "virtio", "52:54:00:12:34:56")
    assert [(g.type, g.autoport) for g in dom.graphics] == [("spice", True)]
    assert [v.model for v in dom.devices(Video)] == ["virtio"]
    assert [c.target_name for c in dom.devices(Channel)] == ["com.redhat.spice.0"]
    assert [d.element.tag for d in dom.all_devices()] == ["disk", "disk", "interface", "channel", "graphics", "video"]


def test_an_unchanged_round_trip_keeps_every_element_and_attribute() -> None:
    def canonical(xml: str) -> bytes:
        parser = etree.XMLParser(remove_blank_text=True)
        return etree.tostring(etree.fromstring(xml.encode(), parser), method="c14n")

    assert canonical(DomainXml(GUEST).to_xml()) == canonical(GUEST)


def test_edits_touch_only_their_own_parts() -> None:
    dom = DomainXml(GUEST)
    dom.name = "web-2"
    dom.title = None
    dom.description = "copied from web-1"
    dom.memory_mib = 4096
    dom.vcpus = 4
    dom.firmware = "efi"
    dom.boot_devices = ["cdrom", "hd"]
    dom.disks[1].set_file("/isos/debian.iso")
    dom.interfaces[0].model = "e1000e"
    out = DomainXml(dom.to_xml())
    assert (out.name, out.title, out.description) == ("web-2", None, "copied from web-1")
    assert (out.memory_mib, out.vcpus, out.firmware, out.boot_devices) == (4096, 4, "efi", ["cdrom", "hd"])
    assert out.disks[1].source_file == "/isos/debian.iso" and out.disks[1].readonly
    assert out.interfaces[0].model == "e1000e"
    text = out.to_xml()
    for kept in ("<numatune>", "<vmport state=\"off\"/>", "check=\"none\"", "<image compression=\"off\"/>",
                 "<watchdog model=\"i6300esb\" action=\"reset\"/>", "<app1:foo xmlns:app1=\"http://app1.org/app1/\">",
                 "address type=\"pci\" domain=\"0x0000\" bus=\"0x04\""):
        assert kept in text
    assert "<title>" not in text
    # the memory unit is rewritten in MiB, the description goes after the name and uuid
    assert "<memory unit=\"MiB\">4096</memory>" in text
    assert text.index("<description>") > text.index("<uuid>")


def test_setting_none_removes_what_the_property_made() -> None:
    dom = DomainXml.new("bare", "qemu")
    dom.set_direct_kernel_boot("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0")
    assert (dom.kernel, dom.initrd, dom.cmdline) == ("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0")
    dom.set_direct_kernel_boot(None)
    assert dom.find("os/kernel") is None and dom.find("os/cmdline") is None
    dom.cpu_mode = "host-model"
    dom.cpu_mode = None
    assert dom.find("cpu") is None  # the element it created is gone once empty
    dom.acpi = True
    dom.acpi = False
    assert dom.find("features") is None


def test_devices_are_added_beside_their_kind() -> None:
    dom = DomainXml(GUEST)
    disk = dom.add_device(Disk.new(type="file", device="disk"))
    disk.set_file("/images/data.qcow2")
    disk.target_bus = "virtio"
    disk.target_dev = dom.next_target_dev("virtio")
    nic = dom.add_device(Interface.new(type="user"))
    tags = [el.tag for el in dom.devices_element]
    assert tags == ["emulator", "disk", "disk", "disk", "interface", "interface", "channel", "graphics", "video",
                    "watchdog"]
    assert disk.target_dev == "vdb" and dom.next_target_dev("sata") == "sdb" and dom.next_target_dev("ide") == "hda"
    dom.remove_device(nic)
    assert len(dom.interfaces) == 1


def test_graphics_listen_address() -> None:
    dom = DomainXml(GUEST)
    g = dom.graphics[0]
    g.listen_address("0.0.0.0")
    assert g.listen == "0.0.0.0"
    assert [(el.get("type"), el.get("address")) for el in g.element.findall("listen")] == [("address", "0.0.0.0")]


def test_metadata_of_other_programs_is_kept_and_ours_replaced() -> None:
    dom = DomainXml(GUEST)
    mine = etree.Element("{https://vmgui.org/xmlns/guest/1.0}guest", nsmap={"vmgui": "https://vmgui.org/xmlns/guest/1.0"})
    dom.set_metadata_element(mine)
    again = etree.Element("{https://vmgui.org/xmlns/guest/1.0}guest")
    etree.SubElement(again, "{https://vmgui.org/xmlns/guest/1.0}tags")
    dom.set_metadata_element(again)
    out = DomainXml(dom.to_xml())
    found = out.metadata_element("https://vmgui.org/xmlns/guest/1.0")
    assert found is not None and len(found) == 1
    assert out.metadata_element("http://app1.org/app1/") is not None
    assert out.metadata_element("http://libosinfo.org/xmlns/libvirt/domain/1.0") is not None
    fresh = DomainXml.new("x")
    fresh.set_metadata_element(etree.Element("{urn:a}b"))
    assert [c.tag for c in fresh.element][:2] == ["name", "metadata"]


@pytest.mark.parametrize(("xml", "message"), [
    ("<domain><name>x</name>", "not well formed"),
    ("<network><name>x</name></network>", "root element is <network>"),
    ("<domain><name>x</name><memory unit='parsecs'>3</memory></domain>", "unknown unit"),
])
def test_bad_xml_says_what_is_wrong(xml: str, message: str) -> None:
    with pytest.raises(XmlError, match=message):
        DomainXml(xml).memory_mib  # noqa: B018


def test_a_new_domain_is_accepted_by_libvirt() -> None:
    dom = DomainXml.new("model-made", "test")
    dom.memory_mib = 256
    dom.vcpus = 1
    dom.arch = "i686"
    disk = dom.add_device(Disk.new(type="file", device="disk"))
    disk.set_file("/tmp/model-made.img")
    disk.target_dev, disk.target_bus = "vda", "virtio"
    dom.add_device(Graphics.new(type="vnc")).autoport = True
    conn = libvirt.open("test:///default")
    try:
        defined = conn.defineXML(dom.to_xml())
        back = DomainXml(defined.XMLDesc(0))
        assert (back.name, back.memory_mib, back.disks[0].source_file) == ("model-made", 256, "/tmp/model-made.img")
        defined.undefine()
    finally:
        conn.close()
