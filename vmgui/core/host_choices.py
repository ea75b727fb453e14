"""What the New Guest wizard can offer on one host, read in one worker call (blocking)."""

from __future__ import annotations

from dataclasses import dataclass

import libvirt

from vmgui.core import storage, uris
from vmgui.core.host_caps import HostCaps, read_host_caps
from vmgui.core.host_networks import NetworkOption, network_options


@dataclass(frozen=True)
class HostChoices:
    caps: HostCaps
    pools: tuple[storage.PoolInfo, ...]          # active pools that can hold new disk images first
    networks: tuple[NetworkOption, ...]
    taken_names: frozenset[str]
    isos: tuple[storage.VolumeInfo, ...]         # ISO images the host's pools hold (for remote hosts)
    images: tuple[storage.VolumeInfo, ...]       # the other volumes: disk images to import
    local: bool                                  # files can be picked with this machine's file dialog

    @property
    def default_pool(self) -> storage.PoolInfo | None:
        usable = [p for p in self.pools if p.active and p.holds_files]
        return next((p for p in usable if p.name == "default"), usable[0] if usable else None)


def read_host_choices(conn: libvirt.virConnect, uri: str) -> HostChoices:
    """Capabilities, pools, networks, guest names and ISO images of the host behind `conn` (blocking)."""
    caps = read_host_caps(conn)
    pools = storage.list_pools(conn)
    pools.sort(key=lambda p: (not (p.active and p.holds_files), p.name != "default", p.name))
    isos: list[storage.VolumeInfo] = []
    images: list[storage.VolumeInfo] = []
    for pool in pools:
        if pool.active:
            for v in storage.list_volumes(conn, pool.name):
                (isos if v.format == "iso" or v.name.lower().endswith(".iso") else images).append(v)
    session = uri.split("?")[0].rstrip("/").endswith("/session")
    names = frozenset(d.name() for d in conn.listAllDomains(0))
    return HostChoices(caps=caps, pools=tuple(pools), networks=tuple(network_options(conn, session=session)),
                       taken_names=names, isos=tuple(isos), images=tuple(images),
                       local=uris.is_local(uri))

