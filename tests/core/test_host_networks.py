"""Network choices for a new guest's card on the test driver."""

from __future__ import annotations

from pathlib import Path

import libvirt

from vmgui.core.host_networks import USER_MODE, network_options


def test_system_hosts_offer_networks_first_and_user_mode_last() -> None:
    conn = libvirt.open("test:///default")
    try:
        options = network_options(conn, session=False)
        assert [(o.kind, o.source, o.active) for o in options] == [("network", "default", True), ("user", None, True)]
        assert "Virtual network 'default' (nat)" in options[0].label
        conn.networkLookupByName("default").destroy()
        stopped = network_options(conn, session=True)
        assert stopped[0] is USER_MODE  # a session host cannot use system networks without help
        assert stopped[1].label.endswith("(nat, not running)") and not stopped[1].active
    finally:
        conn.close()


# A host with a bridge over its NIC, a plain NIC and a NAT network (the test driver reads it as its host).
BRIDGED_HOST = """<node>
  <cpu><mhz>3000</mhz><model>i686</model><active>2</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores>
    <threads>1</threads></cpu>
  <memory>4194304</memory>
  <interface type='bridge' name='br0'>
    <start mode='onboot'/>
    <bridge stp='off'><interface type='ethernet' name='eth0'><mac address='52:54:00:aa:bb:cc'/></interface></bridge>
  </interface>
  <interface type='ethernet' name='eth1'><start mode='onboot'/><mac address='52:54:00:aa:bb:cd'/></interface>
  <network><name>default</name><bridge name='virbr0'/><forward/><ip address='192.168.122.1' netmask='255.255.255.0'/>
  </network>
</node>
"""


def test_host_bridges_are_offered_and_plain_nics_are_not(tmp_path: Path) -> None:
    host = tmp_path / "bridged.xml"
    host.write_text(BRIDGED_HOST)
    conn = libvirt.open(f"test://{host}")
    try:
        options = network_options(conn, session=False)
        assert [(o.kind, o.source) for o in options] == [("network", "default"), ("bridge", "br0"), ("user", None)]
        assert options[1].label == "Bridge br0 (the guest is on the host's network)"
        assert [(o.kind, o.source) for o in network_options(conn, session=True)] == [
            ("user", None), ("network", "default"), ("bridge", "br0")]
    finally:
        conn.close()
