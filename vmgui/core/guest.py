"""GuestInfo: an immutable snapshot of one guest's identity, state and configuration, read from libvirt."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import libvirt

from vmgui.core import metadata
from vmgui.core.domstate import GuestState, reason_text
from vmgui.core.vdi.marks import DesktopMark, desktop_mark, golden_stamp
from vmgui.core.workers import yield_to_gui


@dataclass(frozen=True, slots=True)
class GuestInfo:
    uuid: str
    name: str
    state: GuestState
    reason: int
    vcpus: int
    memory_kib: int  # current allocation (balloon)
    max_memory_kib: int
    autostart: bool
    persistent: bool
    has_managed_save: bool
    title: str = ""
    description: str = ""
    tags: tuple[str, ...] = ()
    id: int = -1  # hypervisor id while running, else -1
    desktop: DesktopMark | None = None  # set when the guest is a VDI pool desktop
    golden_stamp: str = ""  # for the source of a golden image: its versions and pools, as text

    @property
    def golden(self) -> bool:
        """The guest is the source of a golden image."""
        return bool(self.golden_stamp)

    @property
    def state_text(self) -> str:
        """'Shut off (saved)', 'Paused (disk I/O error)', 'Running'..."""
        why = "saved" if self.has_managed_save and self.state is GuestState.SHUTOFF else ""
        why = why or reason_text(self.state, self.reason)
        return f"{self.state.label} ({why})" if why else self.state.label


def _int(root: ET.Element, path: str, default: int = 0) -> int:
    node = root.find(path)
    try:
        return int(node.text) if node is not None and node.text else default
    except ValueError:
        return default


def _kib(root: ET.Element, path: str) -> int:
    node = root.find(path)
    if node is None or not node.text:
        return 0
    factor = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "m": 1024, "mib": 1024,
              "g": 1024**2, "gib": 1024**2}.get(node.get("unit", "KiB").lower(), 1)
    return int(int(node.text) * factor)


def guest_from_xml(xml: str, state: int, reason: int, *, autostart: bool, persistent: bool,
                   has_managed_save: bool) -> GuestInfo:
    """Build the snapshot from domain XML plus the few facts the XML does not carry."""
    root = ET.fromstring(xml)
    vcpu = root.find("vcpu")
    vcpus = 0
    if vcpu is not None:
        vcpus = int(vcpu.get("current") or (vcpu.text or "0"))
    max_mem = _kib(root, "memory")
    return GuestInfo(
        uuid=root.findtext("uuid", ""),
        name=root.findtext("name", ""),
        state=GuestState.from_libvirt(state),
        reason=reason,
        vcpus=vcpus,
        memory_kib=_kib(root, "currentMemory") or max_mem,
        max_memory_kib=max_mem,
        autostart=autostart,
        persistent=persistent,
        has_managed_save=has_managed_save,
        title=root.findtext("title", "").strip(),
        description=root.findtext("description", "").strip(),
        tags=metadata.tags_from_domain(root),
        id=int(root.get("id", "-1")),
        desktop=desktop_mark(root),
        golden_stamp=golden_stamp(root),
    )


def read_guest(dom: libvirt.virDomain) -> GuestInfo:
    """Read one guest (blocking: several libvirt calls; run it in a worker thread, under PYTHON_WORK
    when reading many)."""
    state, reason = dom.state()
    persistent = bool(dom.isPersistent())
    xml = dom.XMLDesc(0)
    autostart = bool(dom.autostart()) if persistent else False
    saved = bool(dom.hasManagedSaveImage()) if persistent else False
    return guest_from_xml(xml, state, reason, autostart=autostart, persistent=persistent,
                          has_managed_save=saved)


def read_guests(conn: libvirt.virConnect, domains: list[libvirt.virDomain]) -> list[GuestInfo]:
    """Read many guests with few calls (blocking): the flags of all guests come from three filtered
    listings and one state query, so each guest costs one XMLDesc (one round trip on a remote host,
    instead of five). A guest that vanishes meanwhile is left out."""
    def uuids(flag: int) -> set[str]:
        return {d.UUIDString() for d in conn.listAllDomains(flag)}

    persistent = uuids(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT)
    autostart = uuids(libvirt.VIR_CONNECT_LIST_DOMAINS_AUTOSTART)
    saved = uuids(libvirt.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE)
    states = {dom.UUIDString(): (int(rec.get("state.state", 0)), int(rec.get("state.reason", 0)))
              for dom, rec in conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)}
    result = []
    for dom in domains:
        uuid = dom.UUIDString()
        try:
            xml = dom.XMLDesc(0)
            state, reason = states[uuid] if uuid in states else dom.state()
        except libvirt.libvirtError as err:
            if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                continue
            raise
        yield_to_gui()
        result.append(guest_from_xml(xml, state, reason, autostart=uuid in autostart,
                                     persistent=uuid in persistent, has_managed_save=uuid in saved))
    return result
