"""The domain XML model: typed reads and writes, unknown XML kept, devices, metadata and output."""

from __future__ import annotations

import libvirt
import pytest
from lxml import etree

from vmgui.core.domain_xml import Channel, Disk, DomainXml, Graphics, Interface, RedirDev, Sound, Tpm, Video, XmlError

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


# Every other part the issue lists, each with XML the model has no property for inside or beside it.
DEVICES_GUEST = """<domain type='kvm'>
  <name>desk-1</name>
  <title>Desk</title>
  <description>Front desk PC</description>
  <metadata><other:x xmlns:other="urn:other">kept</other:x></metadata>
  <memory unit='MiB'>4096</memory>
  <vcpu placement='static' cpuset='0-1'>2</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <firmware><feature enabled='yes' name='secure-boot'/><feature enabled='no' name='enrolled-keys'/></firmware>
    <kernel>/boot/vmlinuz</kernel>
    <initrd>/boot/initrd.img</initrd>
    <cmdline>console=ttyS0</cmdline>
    <bootmenu enable='yes' timeout='3000'/>
  </os>
  <cpu mode='host-model' check='partial'><topology sockets='1' cores='2' threads='1'/></cpu>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='/images/desk-1.qcow2'/>
      <target dev='vda' bus='virtio'/>
      <boot order='1'/>
      <iotune><total_bytes_sec>1000000</total_bytes_sec></iotune>
    </disk>
    <disk type='block' device='cdrom'>
      <source dev='/dev/sr0'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <boot order='2'/>
    </disk>
    <interface type='bridge'>
      <source bridge='br0'/>
      <model type='e1000e'/>
      <link state='down'/>
      <boot order='3'/>
      <bandwidth><inbound average='1000'/></bandwidth>
    </interface>
    <interface type='user'><model type='virtio'/></interface>
    <channel type='unix'><source mode='bind'/><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <input type='tablet' bus='usb'/>
    <tpm model='tpm-crb'>
      <backend type='emulator' version='2.0'><active_pcr_banks><sha256/></active_pcr_banks></backend>
    </tpm>
    <graphics type='vnc' port='5901' autoport='no' listen='127.0.0.1' passwd='s3cret'>
      <listen type='address' address='127.0.0.1'/>
    </graphics>
    <sound model='ich9'><codec type='micro'/></sound>
    <video><model type='qxl' heads='2' vram='65536'><acceleration accel3d='no'/></model></video>
    <redirdev bus='usb' type='spicevmc'><address type='usb' bus='0' port='3'/></redirdev>
    <redirfilter><usbdev allow='yes'/></redirfilter>
  </devices>
</domain>
"""


def canonical(xml: str) -> bytes:
    return etree.tostring(etree.fromstring(xml.encode(), etree.XMLParser(remove_blank_text=True)), method="c14n")


def test_every_listed_part_reads_as_typed_values() -> None:
    dom = DomainXml(DEVICES_GUEST)
    assert (dom.name, dom.title, dom.description) == ("desk-1", "Desk", "Front desk PC")
    other = dom.metadata_element("urn:other")
    assert other is not None and other.text == "kept"
    assert (dom.memory_mib, dom.vcpus, dom.cpu_mode) == (4096, 2, "host-model")
    assert (dom.firmware, dom.secure_boot_enabled, dom.boot_menu) == ("efi", True, True)
    assert (dom.kernel, dom.initrd, dom.cmdline) == ("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0")
    disk, cdrom = dom.disks
    assert (disk.boot_order, cdrom.boot_order, cdrom.device, cdrom.type, cdrom.source_path) == \
        (1, 2, "cdrom", "block", "/dev/sr0")
    bridge, user = dom.interfaces
    assert (bridge.type, bridge.source_bridge, bridge.model, bridge.link_state, bridge.boot_order) == \
        ("bridge", "br0", "e1000e", "down", 3)
    assert (user.type, user.source_network, user.model) == ("user", None, "virtio")
    vnc, = dom.graphics
    assert (vnc.type, vnc.port, vnc.autoport, vnc.listen, vnc.passwd) == ("vnc", 5901, False, "127.0.0.1", "s3cret")
    video, = dom.devices(Video)
    assert (video.model, video.heads, video.vram_kib) == ("qxl", 2, 65536)
    assert [s.model for s in dom.devices(Sound)] == ["ich9"]
    assert [(c.type, c.target_type, c.target_name) for c in dom.devices(Channel)] == \
        [("unix", "virtio", "org.qemu.guest_agent.0")]
    assert [(r.bus, r.type, r.address_type) for r in dom.devices(RedirDev)] == [("usb", "spicevmc", "usb")]
    tpm, = dom.devices(Tpm)
    assert (tpm.model, tpm.backend_type, tpm.backend_version) == ("tpm-crb", "emulator", "2.0")
    assert [d.element.tag for d in dom.all_devices()] == [
        "disk", "disk", "interface", "interface", "channel", "input", "tpm", "graphics", "sound", "video", "redirdev"]
    assert canonical(dom.to_xml()) == canonical(DEVICES_GUEST)  # read, written back: the same XML


def test_editing_each_part_keeps_the_xml_it_does_not_know() -> None:
    dom = DomainXml(DEVICES_GUEST)
    dom.cpu_mode = "host-passthrough"
    dom.firmware = None  # BIOS
    dom.secure_boot_enabled = False
    dom.set_direct_kernel_boot(None)
    dom.boot_devices = ["hd", "cdrom"]
    dom.disks[0].driver_type = "raw"
    dom.disks[1].boot_order = None
    dom.interfaces[0].source_bridge = "br1"
    dom.interfaces[0].link_state = None
    dom.graphics[0].listen_address(None)
    dom.graphics[0].autoport, dom.graphics[0].port = True, None
    dom.devices(Video)[0].model = "virtio"
    dom.devices(Sound)[0].model = "ich6"
    dom.devices(Tpm)[0].model = "tpm-tis"
    dom.devices(RedirDev)[0].type = "tcp"
    dom.add_device(Channel.new(type="spicevmc")).target_name = "com.redhat.spice.0"
    out = DomainXml(dom.to_xml())
    assert (out.cpu_mode, out.firmware, out.secure_boot_enabled, out.kernel, out.initrd, out.cmdline) == \
        ("host-passthrough", None, False, None, None, None)
    assert out.boot_devices == ["hd", "cdrom"] and out.disks[1].boot_order is None
    assert (out.disks[0].driver_type, out.interfaces[0].source_bridge, out.interfaces[0].link_state) == \
        ("raw", "br1", None)
    assert (out.graphics[0].listen, out.graphics[0].autoport, out.graphics[0].port) == (None, True, None)
    assert [out.devices(k)[0].model for k in (Video, Sound, Tpm)] == ["virtio", "ich6", "tpm-tis"]  # type: ignore[attr-defined]
    assert out.devices(RedirDev)[0].type == "tcp"
    assert [c.target_name for c in out.devices(Channel)] == ["org.qemu.guest_agent.0", "com.redhat.spice.0"]
    text = out.to_xml()
    for kept in ('<topology sockets="1" cores="2" threads="1"/>', 'cpuset="0-1"', 'cache="none"',
                 "<total_bytes_sec>1000000</total_bytes_sec>", '<inbound average="1000"/>', '<source mode="bind"/>',
                 "<sha256/>", '<codec type="micro"/>', '<acceleration accel3d="no"/>',
                 '<address type="usb" bus="0" port="3"/>', '<usbdev allow="yes"/>',
                 '<bootmenu enable="yes" timeout="3000"/>',
                 '<feature enabled="no" name="enrolled-keys"/>', '<other:x xmlns:other="urn:other">kept</other:x>',
                 '<boot order="1"/>', 'heads="2" vram="65536"', 'passwd="s3cret"'):
        assert kept in text, kept
