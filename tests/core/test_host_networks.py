"""Network choices for a new guest's card on the test driver."""

from __future__ import annotations

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
