"""Creating a new guest on a host as one all-or-nothing job: disk image, definition, first start.

create_guest runs in a worker thread (blocking). It can be cancelled between steps through an Event;
whether it fails or is cancelled, it undoes what it did (the domain it defined, the image it made), so
no half-made guest or orphan volume is left behind.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import libvirt

from vmgui.core import storage
from vmgui.core.domain_xml import Disk, DomainXml
from vmgui.core.errors import VmguiError, describe
from vmgui.core.guest_delete import undefine
from vmgui.core.install_tree import TreeBoot, fetch
from vmgui.core.new_guest import NewGuestPlan, install_domain, new_disk_name

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


class CreationCancelled(VmguiError):
    """The user cancelled; everything made so far was removed."""


@dataclass(frozen=True)
class CreatedGuest:
    uuid: str
    name: str
    started: bool


def predicted_disk_path(pool: storage.PoolInfo, guest_name: str, fmt: str = "qcow2") -> str | None:
    """Where a new image for `guest_name` will live in `pool` (directory pools), for XML shown before it exists."""
    if not pool.holds_files or not pool.path:
        return None
    return f"{pool.path.rstrip('/')}/{new_disk_name(guest_name, fmt)}"


def create_guest(conn: libvirt.virConnect, plan: NewGuestPlan, xml: str, *, start: bool,
                 progress: Progress = lambda _step: None, cancel: threading.Event | None = None,
                 tree: TreeBoot | None = None) -> CreatedGuest:
    """Make the plan's new disk image (if any), define the guest from `xml`, and start it if asked (blocking).

    `xml` names the new image by its predicted path; the path the pool gives is put in its place.
    A network install (`tree`) fetches the installer's kernel and initrd into the disk's pool, boots
    them once (install_domain) and removes them again: QEMU has read them by then.
    """
    cancel = cancel or threading.Event()
    made_volumes: list[str] = []
    dom: libvirt.virDomain | None = None

    def check() -> None:
        if cancel.is_set():
            raise CreationCancelled("Cancelled: nothing was left behind.")

    try:
        check()
        domain = DomainXml(xml)
        if domain.name != plan.name:
            raise VmguiError(f"The XML names the guest '{domain.name}', not '{plan.name}'.")
        _refuse_taken_name(conn, plan.name)
        disk = plan.disk
        if disk is not None and disk.is_new:
            assert disk.pool is not None
            progress(f"Creating the disk image ({disk.size_gib:g} GiB in pool '{disk.pool}')…")
            predicted = predicted_disk_path(storage.pool_info(conn, disk.pool), plan.name, disk.format)
            volume = storage.create_volume(conn, disk.pool, new_disk_name(plan.name, disk.format),
                                           int(disk.size_gib * 1024 ** 3), disk.format)
            made_volumes.append(volume.path)
            _point_disk_at(domain, predicted, volume.path)
            check()
        installer: tuple[str, str] | None = None
        if tree is not None:
            installer = _fetch_installer(conn, plan, tree, progress, made_volumes, check)
            check()
        progress("Defining the guest…")
        try:
            dom = conn.defineXML(domain.to_xml())
        except libvirt.libvirtError as err:
            raise VmguiError(f"libvirt did not accept the guest's XML: {err.get_error_message()}") from err
        check()
        if installer is not None:
            progress("Starting the installer…")
            arguments = " ".join(a for a in (tree.cmdline if tree else "", plan.cmdline or "") if a)
            first_boot = install_domain(domain, *installer, arguments)
            first_boot.uuid = dom.UUIDString()  # the same guest as the one just defined
            try:
                conn.createXML(first_boot.to_xml(), 0)  # this run only; the definition stays `domain`
            except libvirt.libvirtError as err:
                raise VmguiError(f"The installer could not start: {err.get_error_message()}") from err
            for path in made_volumes[-2:]:  # QEMU read the kernel and initrd when it started
                storage.delete_volume(conn, path)
            del made_volumes[-2:]
        elif start:
            progress("Starting the guest…")
            try:
                dom.create()
            except libvirt.libvirtError as err:
                raise VmguiError(f"The guest could not start: {err.get_error_message()}") from err
        return CreatedGuest(dom.UUIDString(), plan.name, start or installer is not None)
    except BaseException as err:
        remove_half_made(conn, dom, made_volumes)
        if isinstance(err, libvirt.libvirtError):
            raise VmguiError(describe(err, f"create the guest {plan.name}")) from err
        raise


def _refuse_taken_name(conn: libvirt.virConnect, name: str) -> None:
    try:
        conn.lookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
            return
        raise
    raise VmguiError(f"A guest named '{name}' already exists on this host.")


def _point_disk_at(domain: DomainXml, predicted: str | None, actual: str) -> None:
    """The disk that names the predicted path of the new image now names the image itself."""
    for disk in domain.devices(Disk):
        if disk.device in (None, "disk") and disk.source_file in (predicted, actual):
            disk.set_file(actual)
            return
    raise VmguiError("The XML has no disk for the new disk image (was it removed while customizing?).")


def _fetch_installer(conn: libvirt.virConnect, plan: NewGuestPlan, tree: TreeBoot, progress: Progress,
                     made_volumes: list[str], check: Callable[[], None]) -> tuple[str, str]:
    """Download the tree's kernel and initrd and upload them into the disk's pool: their paths there."""
    pool = plan.disk.pool if plan.disk is not None and plan.disk.pool else None
    if pool is None:
        raise VmguiError("A network install needs a new disk image in a storage pool (the installer goes there).")
    paths = []
    with tempfile.TemporaryDirectory(prefix="vmgui-installer-") as tmp:
        for part, url in (("kernel", tree.kernel_url), ("initrd", tree.initrd_url)):
            progress(f"Downloading the installer's {part} from {urllib.parse.urlsplit(url).netloc or url}…")
            local = Path(tmp) / part
            fetch(url, local, check=check)  # a cancel stops the download, not only the steps around it
            volume = storage.upload_file(conn, pool, f"{plan.name}-installer-{part}", str(local))
            made_volumes.append(volume.path)
            paths.append(volume.path)
    return paths[0], paths[1]


def remove_half_made(conn: libvirt.virConnect, dom: libvirt.virDomain | None, volumes: Iterable[str]) -> None:
    """Remove what a failed or cancelled creation (or clone) made; report, never raise, what cannot be removed."""
    if dom is not None:
        try:
            if dom.isActive():
                dom.destroy()
            undefine(dom)
        except libvirt.libvirtError as err:
            log.error("could not remove the half-made guest %s: %s", dom.name(), err)
    storage.remove_made_volumes(conn, volumes)

