"""Storage pools and volumes: list them, make a new disk image in a pool, remove one (all blocking).

Every function here makes libvirt calls; run it in a worker thread (asyncio.to_thread).
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import libvirt

from vmgui.core.errors import VmguiError

log = logging.getLogger(__name__)

GIB = 1024 ** 3
_VOLUME_NAME = re.compile(r"^[\w][\w.+-]*$")


class VolumeExists(VmguiError):
    """A new volume's name is taken in its pool (also when another client made it a moment ago)."""


@dataclass(frozen=True)
class PoolInfo:
    name: str
    type: str               # dir, logical, netfs, ...
    active: bool
    path: str | None        # the target directory or device
    capacity: int           # bytes
    available: int          # bytes free

    @property
    def holds_files(self) -> bool:
        """Whether new volumes in this pool are files that can be qcow2 images."""
        return self.type in ("dir", "fs", "netfs", "gluster")


@dataclass(frozen=True)
class VolumeInfo:
    pool: str
    name: str
    path: str
    capacity: int           # bytes the guest sees
    allocation: int         # bytes used on the host
    format: str             # qcow2, raw, iso, ...


def _pool_info(pool: libvirt.virStoragePool) -> PoolInfo:
    root = ET.fromstring(pool.XMLDesc(0))
    active = bool(pool.isActive())
    capacity = available = 0
    if active:
        _state, capacity, _allocation, available = pool.info()
    return PoolInfo(name=pool.name(), type=root.get("type", ""), active=active,
                    path=root.findtext("target/path"), capacity=capacity, available=available)


def list_pools(conn: libvirt.virConnect) -> list[PoolInfo]:
    """Every storage pool of the host, by name (blocking)."""
    return sorted((_pool_info(p) for p in conn.listAllStoragePools(0)), key=lambda p: p.name)


def pool_info(conn: libvirt.virConnect, name: str) -> PoolInfo:
    """One pool, refreshed (blocking)."""
    pool = _lookup_pool(conn, name)
    if pool.isActive():
        with contextlib.suppress(libvirt.libvirtError):  # a busy pool keeps its last figures, still useful
            pool.refresh(0)
    return _pool_info(pool)


def list_volumes(conn: libvirt.virConnect, pool_name: str) -> list[VolumeInfo]:
    """The volumes of an active pool, by name (blocking)."""
    pool = _lookup_pool(conn, pool_name)
    if not pool.isActive():
        return []
    return sorted((_volume_info(pool_name, vol) for vol in pool.listAllVolumes(0)), key=lambda v: v.name)


def _volume_info(pool_name: str, vol: libvirt.virStorageVol) -> VolumeInfo:
    fmt = ET.fromstring(vol.XMLDesc(0)).find("target/format")
    _type, capacity, allocation = vol.info()
    return VolumeInfo(pool=pool_name, name=vol.name(), path=vol.path(), capacity=capacity, allocation=allocation,
                      format=fmt.get("type", "") if fmt is not None else "")


def volume_name_problem(name: str) -> str | None:
    """Why `name` cannot name a new volume, or None."""
    if not name:
        return "The disk image needs a name."
    if len(name) > 200 or not _VOLUME_NAME.match(name):
        return f"'{name}' cannot name a disk image: use letters, digits and . _ + - (not first)."
    return None


def create_volume(conn: libvirt.virConnect, pool_name: str, name: str, capacity_bytes: int,
                  fmt: str = "qcow2") -> VolumeInfo:
    """A new, empty (sparse) disk image in a pool (blocking). Refuses a taken name or too little space."""
    if capacity_bytes <= 0:
        raise VmguiError("A disk image must be larger than 0 bytes.")
    pool = _pool_for_new_volume(conn, pool_name, name)
    info = _pool_info(pool)
    if fmt == "raw" and capacity_bytes > info.available:
        raise VmguiError(f"The storage pool '{pool_name}' has {info.available / GIB:.1f} GiB free, "
                         f"less than the {capacity_bytes / GIB:.1f} GiB asked for.")
    xml = (f"<volume><name>{name}</name><capacity unit='bytes'>{capacity_bytes}</capacity>"
           f"<allocation unit='bytes'>0</allocation><target><format type='{fmt}'/></target></volume>")
    try:
        vol = pool.createXML(xml, 0)
    except libvirt.libvirtError as err:
        raise VmguiError(f"The disk image '{name}' could not be created in '{pool_name}': "
                         f"{err.get_error_message()}") from err
    _type, capacity, allocation = vol.info()
    return VolumeInfo(pool=pool_name, name=name, path=vol.path(), capacity=capacity, allocation=allocation,
                      format=fmt)


def delete_volume(conn: libvirt.virConnect, path: str) -> bool:
    """Remove the volume at `path` (blocking); False when no pool holds it (already gone)."""
    try:
        vol = conn.storageVolLookupByPath(path)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return False
        raise
    vol.delete(0)
    return True


def remove_made_volumes(conn: libvirt.virConnect, paths: Iterable[str]) -> None:
    """Undo after a failure: remove the volumes made so far (blocking). One that cannot be removed is logged,
    not raised, so the failure that is being undone is the one the caller sees."""
    for path in paths:
        try:
            delete_volume(conn, path)
        except libvirt.libvirtError as err:
            log.error("could not remove %s: %s", path, err)


def find_volume(conn: libvirt.virConnect, path: str) -> VolumeInfo | None:
    """The volume a pool holds at `path`, or None (blocking)."""
    try:
        vol = conn.storageVolLookupByPath(path)
    except libvirt.libvirtError:
        return None
    return _volume_info(vol.storagePoolLookupByVolume().name(), vol)


# The first bytes of the image formats QEMU reads, as qemu-img probes them.
_MAGIC = ((b"QFI\xfb", "qcow2"), (b"KDMV", "vmdk"), (b"vhdxfile", "vhdx"))


def probe_format(path: str) -> str | None:
    """The format of the image file `path` on this machine from its first bytes ("qcow2", "vmdk"... else
    "raw"); None when it cannot be read (blocking: reads 64 bytes). A qcow2 file named .img is still qcow2."""
    try:
        with open(path, "rb") as image:
            head = image.read(64)
    except OSError:
        return None
    return next((fmt for magic, fmt in _MAGIC if head.startswith(magic)), "raw")


def _lookup_pool(conn: libvirt.virConnect, name: str) -> libvirt.virStoragePool:
    try:
        return conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as err:
        raise VmguiError(f"There is no storage pool named '{name}' on this host.") from err


def upload_file(conn: libvirt.virConnect, pool_name: str, name: str, path: str) -> VolumeInfo:
    """A new raw volume in the pool holding the bytes of the local file `path` (blocking; works for a
    remote host too: the bytes go through libvirt's stream). Nothing is left when it fails."""
    size = os.path.getsize(path)
    pool = _pool_for_new_volume(conn, pool_name, name)
    xml = (f"<volume><name>{name}</name><capacity unit='bytes'>{size}</capacity>"
           f"<target><format type='raw'/></target></volume>")
    try:
        vol = pool.createXML(xml, 0)
    except libvirt.libvirtError as err:
        raise VmguiError(f"Could not create '{name}' in '{pool_name}': {err.get_error_message()}") from err
    stream = conn.newStream(0)
    try:
        vol.upload(stream, 0, size, 0)
        with open(path, "rb") as source:
            stream.sendAll(lambda _stream, nbytes, f: f.read(nbytes), source)
        stream.finish()
    except (libvirt.libvirtError, OSError) as err:
        with contextlib.suppress(libvirt.libvirtError):
            stream.abort()
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
        raise VmguiError(f"Could not upload {os.path.basename(path)} into '{pool_name}': {err}") from err
    return _volume_info(pool_name, vol)


def copy_volume(conn: libvirt.virConnect, source: VolumeInfo, name: str,
                progress: Callable[[float], None] | None = None, *, read_only: bool = False) -> VolumeInfo:
    """A full copy of `source` in its pool under `name` (blocking; can take minutes for big disks).

    `progress` gets the share copied (0..1) about twice a second, from the new image's allocation.
    `read_only` makes the new file mode 0444 (a golden image nobody may write).
    """
    pool = _pool_for_new_volume(conn, source.pool, name)
    fmt = source.format or "raw"
    mode = "<permissions><mode>0444</mode></permissions>" if read_only else ""
    xml = (f"<volume><name>{name}</name><capacity unit='bytes'>{source.capacity}</capacity>"
           f"<allocation unit='bytes'>0</allocation><target><format type='{fmt}'/>{mode}</target></volume>")
    result: list[libvirt.virStorageVol | BaseException] = []

    def copy() -> None:
        try:
            result.append(pool.createXMLFrom(xml, conn.storageVolLookupByPath(source.path), 0))
        except BaseException as err:  # handed to the caller's thread
            result.append(err)

    worker = threading.Thread(target=copy, name=f"copy {name}", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.5)
        if progress is not None and worker.is_alive() and source.allocation > 0:
            with contextlib.suppress(libvirt.libvirtError):  # not there yet, or just done
                allocated = pool.storageVolLookupByName(name).info()[2]
                progress(min(1.0, allocated / source.allocation))
    outcome = result[0]
    if isinstance(outcome, libvirt.libvirtError):
        raise VmguiError(f"Could not copy {source.name}: {outcome.get_error_message()}") from outcome
    if isinstance(outcome, BaseException):
        raise outcome
    return _volume_info(source.pool, outcome)


def copy_volume_to(conn: libvirt.virConnect, source: VolumeInfo, target: libvirt.virConnect, pool_name: str,
                   name: str, progress: Callable[[float], None] | None = None, *, read_only: bool = False,
                   cancel: threading.Event | None = None) -> VolumeInfo:
    """A copy of `source` (on `conn`) in the pool `pool_name` of another host `target` (blocking): its
    bytes are downloaded and uploaded through libvirt streams, so it works between any two hosts.
    `read_only` makes the copy mode 0444. Nothing is left on `target` when it fails or is cancelled."""
    _pool_for_new_volume(target, pool_name, name)
    if not read_only:
        return _stream_copy(conn, source, target, pool_name, name, progress, cancel, read_only=False)
    try:  # a daemon running as root writes into a 0444 file it just made
        return _stream_copy(conn, source, target, pool_name, name, progress, cancel, read_only=True)
    except _StreamRefused:
        pass
    # a user's own daemon cannot: upload a writable file, then copy it on that host into a 0444 one
    upload = _stream_copy(conn, source, target, pool_name, f"{name}.upload", progress, cancel, read_only=False)
    try:
        return copy_volume(target, upload, name, read_only=True)
    finally:
        delete_volume(target, upload.path)


class _StreamRefused(VmguiError):
    """The other host made the volume but would not open it for the upload."""


def _stream_copy(conn: libvirt.virConnect, source: VolumeInfo, target: libvirt.virConnect, pool_name: str,
                 name: str, progress: Callable[[float], None] | None, cancel: threading.Event | None, *,
                 read_only: bool) -> VolumeInfo:
    pool = _pool_for_new_volume(target, pool_name, name)
    source_vol = conn.storageVolLookupByPath(source.path)
    size = int(source_vol.info()[2]) or source.allocation  # the file's bytes (a qcow2's, not its capacity)
    mode = "<permissions><mode>0444</mode></permissions>" if read_only else ""
    xml = (f"<volume><name>{name}</name><capacity unit='bytes'>{source.capacity}</capacity>"
           f"<target><format type='{source.format or 'raw'}'/>{mode}</target></volume>")
    try:
        vol = pool.createXML(xml, 0)
    except libvirt.libvirtError as err:
        raise VmguiError(f"Could not create '{name}' in '{pool_name}': {err.get_error_message()}") from err
    down, up = conn.newStream(0), target.newStream(0)
    try:
        try:
            vol.upload(up, 0, 0, 0)
        except libvirt.libvirtError as err:
            raise _StreamRefused(err.get_error_message()) from err
        source_vol.download(down, 0, 0, 0)  # the whole file
        done = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise VmguiError("Cancelled: nothing was left behind.")
            chunk = down.recv(1 << 20)
            if isinstance(chunk, int) or not chunk:
                break
            _send(up, chunk)
            done += len(chunk)
            if progress is not None and size:
                progress(min(1.0, done / size))
        down.finish()
        up.finish()
    except BaseException as err:
        for stream in (down, up):
            with contextlib.suppress(libvirt.libvirtError):
                stream.abort()
        with contextlib.suppress(libvirt.libvirtError):
            vol.delete(0)
        if isinstance(err, libvirt.libvirtError):
            raise VmguiError(f"Could not copy {source.name} to the other host: {err.get_error_message()}") from err
        raise
    return _volume_info(pool_name, vol)


def _send(stream: libvirt.virStream, data: bytes) -> None:
    view = memoryview(data)
    while view:
        sent = stream.send(bytes(view))
        if sent < 0:
            raise VmguiError("the other host stopped taking the image's bytes")
        view = view[sent:]


def create_overlay(conn: libvirt.virConnect, base: VolumeInfo, name: str) -> VolumeInfo:
    """A new qcow2 image in `base`'s pool whose backing file is `base` (blocking; instant, holds only changes)."""
    pool = _pool_for_new_volume(conn, base.pool, name)
    xml = (f"<volume><name>{name}</name><capacity unit='bytes'>{base.capacity}</capacity>"
           f"<target><format type='qcow2'/></target><backingStore><path>{base.path}</path>"
           f"<format type='{base.format or 'raw'}'/></backingStore></volume>")
    try:
        vol = pool.createXML(xml, 0)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_STORAGE_VOL_EXIST or volume_exists(conn, base.pool, name):
            raise VolumeExists(  # made meanwhile, by another client
                f"The storage pool '{base.pool}' already has a disk image named '{name}'.") from err
        raise VmguiError(f"Could not make an overlay on {base.name}: {err.get_error_message()}") from err
    return _volume_info(base.pool, vol)


def volume_exists(conn: libvirt.virConnect, pool_name: str, name: str) -> bool:
    """Whether the pool has a volume of that name (blocking)."""
    try:
        _lookup_pool(conn, pool_name).storageVolLookupByName(name)
    except libvirt.libvirtError:
        return False
    return True


def _pool_for_new_volume(conn: libvirt.virConnect, pool_name: str, name: str) -> libvirt.virStoragePool:
    """The running pool a new volume `name` can go in; VmguiError says why not (a bad or taken name...)."""
    problem = volume_name_problem(name)
    if problem:
        raise VmguiError(problem)
    pool = _lookup_pool(conn, pool_name)
    if not pool.isActive():
        raise VmguiError(f"The storage pool '{pool_name}' is not running; start it first.")
    try:
        pool.storageVolLookupByName(name)
    except libvirt.libvirtError:
        return pool
    raise VolumeExists(f"The storage pool '{pool_name}' already has a disk image named '{name}'.")


DEFAULT_POOL = "default"


def default_pool_path(session: bool) -> str:
    """Where virt-manager and virt-install keep disk images: the system's or the user's images directory."""
    return os.path.expanduser("~/.local/share/libvirt/images") if session else "/var/lib/libvirt/images"


def create_default_pool(conn: libvirt.virConnect, path: str) -> PoolInfo:
    """Define, build, start and autostart the directory pool 'default' at `path` (blocking)."""
    try:
        conn.storagePoolLookupByName(DEFAULT_POOL)
    except libvirt.libvirtError:
        pass
    else:
        raise VmguiError(f"The host already has a storage pool named '{DEFAULT_POOL}'.")
    xml = f"<pool type='dir'><name>{DEFAULT_POOL}</name><target><path>{html.escape(path)}</path></target></pool>"
    pool = None
    try:
        pool = conn.storagePoolDefineXML(xml, 0)
        pool.build(0)  # makes the directory if it is missing
        pool.create(0)
        pool.setAutostart(1)
    except libvirt.libvirtError as err:
        if pool is not None:
            with contextlib.suppress(libvirt.libvirtError):
                if pool.isActive():
                    pool.destroy()
                pool.undefine()
        raise VmguiError(f"Could not create the storage pool '{DEFAULT_POOL}' in {path}: "
                         f"{err.get_error_message()}") from err
    return _pool_info(pool)
