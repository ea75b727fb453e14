"""Pool desktops one by one: list them, assign them to users, start, reset to the golden image, copy (blocking).

Each desktop carries its record (pool, golden version, user, overlay) in its own vmgui metadata, so
every vmgui sees the same assignments. A reset replaces the desktop's overlay with an empty one on the
pool's golden version: it is the one path back to the image, whether asked for, done by a "reset on
shutdown" pool when the desktop stops, or before such a desktop starts.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, replace

import libvirt

from vmgui.core import metadata, storage
from vmgui.core.clone import DiskMode, backing_file, clone_guest, inspect_disks
from vmgui.core.errors import VmguiError
from vmgui.core.vdi.golden import GoldenVersion
from vmgui.core.vdi.marks import DESKTOP, DesktopMark, mark_from_part, part_from_mark
from vmgui.core.vdi.pool_specs import pool_of, pool_version


@dataclass(frozen=True)
class Desktop:
    uuid: str
    name: str
    mark: DesktopMark
    running: bool

    @property
    def pool(self) -> str:
        return self.mark.pool

    @property
    def version(self) -> int:
        return self.mark.version

    @property
    def user(self) -> str | None:
        return self.mark.user

    @property
    def disk(self) -> str:
        """The desktop's overlay."""
        return self.mark.disk


def read_desktop(dom: libvirt.virDomain) -> Desktop | None:
    """The domain as a pool desktop, or None when it is not one."""
    mark = mark_from_part(metadata.read_part(dom, DESKTOP))
    if mark is None:
        return None
    return Desktop(dom.UUIDString(), dom.name(), mark, bool(dom.isActive()))


def desktops(conn: libvirt.virConnect, pool: str | None = None) -> list[Desktop]:
    """The desktops of a pool (of every pool with None), by name."""
    found = metadata.read_each(conn, read_desktop)
    return sorted((d for d in found if pool is None or d.pool == pool), key=lambda d: d.name)


def write_mark(dom: libvirt.virDomain, mark: DesktopMark) -> None:
    metadata.write_part(dom, DESKTOP, part_from_mark(mark))


def assign(conn: libvirt.virConnect, uuid: str, user: str | None) -> Desktop:
    """Give a desktop to a user (None: take it back)."""
    dom = conn.lookupByUUIDString(uuid)
    desktop = _desktop(dom)
    clean = user.strip() if user else None
    if user is not None and not clean:
        raise VmguiError("Give the user's name.")
    if clean and any(c in clean for c in "<>&\"'\n\t"):
        raise VmguiError(f"'{clean}' is not a user name vmgui can keep (no < > & quotes or line breaks).")
    write_mark(dom, replace(desktop.mark, user=clean))
    return _desktop(dom)


def assign_next_free(conn: libvirt.virConnect, pool: str, user: str) -> Desktop:
    """The user's desktop in the pool: theirs already, else a free one (a pre-started one first), now theirs."""
    mine = [d for d in desktops(conn, pool) if d.user == user]
    if mine:
        return mine[0]
    free = sorted((d for d in desktops(conn, pool) if d.user is None), key=lambda d: (not d.running, d.name))
    if not free:
        raise VmguiError(f"Every desktop of '{pool}' is assigned: grow the pool or free one.")
    return assign(conn, free[0].uuid, user)


def reset(conn: libvirt.virConnect, uuid: str, version: GoldenVersion | None = None, *,
          force_off: bool = False) -> Desktop:
    """Put a shut-off desktop (a running one too with `force_off`: it is turned off first) back to its
    golden image: a fresh, empty overlay on `version`, else on the pool's version (so a recompose reaches
    the desktop here). It keeps its name, identity and user."""
    dom = conn.lookupByUUIDString(uuid)
    desktop = _desktop(dom)
    if force_off and dom.isActive():
        dom.destroy()
    if dom.isActive():
        raise VmguiError(f"Shut {dom.name()} down first: a desktop is reset while it is off.")
    target = version or pool_version(conn, pool_of(conn, desktop.mark))
    base = storage.find_volume(conn, target.path)
    if base is None:
        raise VmguiError(f"The golden image {target.path} of {dom.name()} is not in a storage pool.")
    children = [os.path.basename(path) for path in desktop.mark.links if storage.find_volume(conn, path)]
    if children:
        raise VmguiError(f"{dom.name()} cannot be reset: {', '.join(sorted(children))} build on its disk "
                         "(a linked copy of it); remove them first.")
    if dom.hasManagedSaveImage(0):
        dom.managedSaveRemove(0)  # its memory belongs to the disk being thrown away
    # Another vmgui may reset the same desktop at the same moment (both saw it stop): whichever makes the
    # fresh overlay first wins, and the other takes it as done.
    storage.delete_volume(conn, desktop.disk)
    with contextlib.suppress(storage.VolumeExists):
        storage.create_overlay(conn, base, os.path.basename(desktop.disk))
    write_mark(dom, replace(desktop.mark, version=target.number, links=()))
    return _desktop(dom)


def resets_on_shutdown(conn: libvirt.virConnect, uuid: str) -> bool:
    """The guest is a desktop of a "reset on shutdown" pool."""
    desktop = read_desktop(conn.lookupByUUIDString(uuid))
    if desktop is None:
        return False
    try:
        return pool_of(conn, desktop.mark).mode == "reset"
    except VmguiError:
        return False


def start(conn: libvirt.virConnect, uuid: str) -> Desktop:
    """Start a desktop; one of a "reset on shutdown" pool starts from the golden image (it is reset first,
    in case it stopped while no vmgui was watching). A running desktop is left as it is."""
    dom = conn.lookupByUUIDString(uuid)
    desktop = _desktop(dom)
    if dom.isActive():
        if dom.state()[0] == libvirt.VIR_DOMAIN_PAUSED:
            dom.resume()
        return _desktop(dom)
    if resets_on_shutdown(conn, uuid):
        desktop = reset(conn, uuid)
    try:
        dom.create()
    except libvirt.libvirtError as err:
        raise VmguiError(f"{desktop.name} could not start: {err.get_error_message()}") from err
    return _desktop(dom)


def after_stop(conn: libvirt.virConnect, uuid: str) -> Desktop | None:
    """Called when a guest stopped: a desktop of a "reset on shutdown" pool goes back to the golden image
    at once. The reset desktop, or None when nothing was to be done."""
    try:
        dom = conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError:
        return None  # removed meanwhile
    if dom.isActive() or not resets_on_shutdown(conn, uuid):
        return None
    return reset(conn, uuid)


def copy_desktop(conn: libvirt.virConnect, uuid: str, name: str, *, linked: bool) -> str:
    """A copy of a user's desktop for troubleshooting, outside any pool: a full copy of its disk, or (shut
    off only) a linked one on it. The copy's UUID."""
    dom = conn.lookupByUUIDString(uuid)
    desktop = _desktop(dom)
    if linked and dom.isActive():
        raise VmguiError(f"A linked copy builds on {desktop.name}'s disk as it is now: shut it down first, "
                         "or make a full copy.")
    modes = {d.target: DiskMode.LINK if linked else DiskMode.COPY
             for d in inspect_disks(conn, dom) if d.path == desktop.disk}
    made = clone_guest(conn, uuid, name, modes)
    copy = conn.lookupByUUIDString(made.uuid)
    metadata.write_part(copy, DESKTOP, None)  # a copy is nobody's desktop
    if linked:
        disks = [d.path for d in inspect_disks(conn, copy) if d.path and d.path != desktop.disk]
        links = [p for p in disks if backing_file(conn, p) == desktop.disk]
        write_mark(dom, replace(desktop.mark, links=(*desktop.mark.links, *links)))
    return made.uuid


def _desktop(dom: libvirt.virDomain) -> Desktop:
    desktop = read_desktop(dom)
    if desktop is None:
        raise VmguiError(f"{dom.name()} is not a pool desktop.")
    return desktop
