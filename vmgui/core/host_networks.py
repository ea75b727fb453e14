"""Where a new guest's network card can connect: libvirt networks, host bridges, user-mode (blocking)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt


@dataclass(frozen=True)
class NetworkOption:
    kind: str               # "network", "bridge", "user" (also what <interface type=...> takes)
    source: str | None      # the network or bridge name; None for user-mode
    label: str              # what the wizard shows
    active: bool = True     # a network that is not running is started with the guest (or fails)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.source or ''}"


USER_MODE = NetworkOption("user", None, "Usermode networking (no set-up; the guest is not reachable from outside)")


def network_options(conn: libvirt.virConnect, *, session: bool) -> list[NetworkOption]:
    """What a NIC can use on this host (blocking): its virtual networks (running ones first), its bridges,
    and user-mode networking. On a session connection user-mode comes first: it needs no privileges."""
    networks = []
    for net in conn.listAllNetworks(0):
        root = ET.fromstring(net.XMLDesc(0))
        forward = root.find("forward")
        mode = forward.get("mode", "nat") if forward is not None else "isolated"
        active = bool(net.isActive())
        state = "" if active else ", not running"
        networks.append(NetworkOption("network", net.name(), f"Virtual network '{net.name()}' ({mode}{state})",
                                      active))
    networks.sort(key=lambda n: (not n.active, n.source != "default", n.source or ""))
    bridges = [NetworkOption("bridge", name, f"Bridge {name} (the guest is on the host's network)")
               for name in _bridges(conn)]
    return [USER_MODE, *networks, *bridges] if session else [*networks, *bridges, USER_MODE]


def _bridges(conn: libvirt.virConnect) -> list[str]:
    try:
        interfaces = conn.listAllInterfaces(0)
    except libvirt.libvirtError:
        return []  # no interface driver on this host: bridges can still be typed in the XML
    names = []
    for iface in interfaces:
        try:
            if ET.fromstring(iface.XMLDesc(0)).get("type") == "bridge":
                names.append(iface.name())
        except libvirt.libvirtError:
            continue
    return sorted(names)
