"""OS knowledge for the New Guest wizard from libosinfo: resources, drivers, firmware, media/tree detection."""

from __future__ import annotations

import datetime
import math
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

TYPELIB_PACKAGE = "gir1.2-libosinfo-1.0"
DATABASE_PACKAGE = "osinfo-db"

ARCH = "x86_64"  # the architecture whose resources and firmware the wizard asks about

# libosinfo device ids (http://pcisig.com/pci/VENDOR/DEVICE, http://usb.org/usb/VENDOR/PRODUCT)
_PCI = "http://pcisig.com/pci/"
VIRTIO_BLOCK_IDS = frozenset({_PCI + "1af4/1001", _PCI + "1af4/1042"})  # virtio-blk: legacy, 1.0
VIRTIO_NET_IDS = frozenset({_PCI + "1af4/1000", _PCI + "1af4/1041"})  # virtio-net: legacy, 1.0
VIRTIO_GPU_IDS = frozenset({_PCI + "1af4/1050"})
QXL_IDS = frozenset({_PCI + "1b36/0100"})
# osinfo-db names its "tablet" device 80ee/0021 (VirtualBox's id); QEMU's usb-tablet is 0627/0001.
USB_TABLET_IDS = frozenset({"http://usb.org/usb/80ee/0021", "http://usb.org/usb/0627/0001"})

_UNKNOWN_OS_ID = "http://libosinfo.org/unknown"  # libosinfo's own placeholder entry, no data: not offered
_WINDOWS_FAMILIES = frozenset({"win16", "win9x", "winnt"})

_MIB = 1024**2
_GIB = 1024**3


class OsinfoUnavailable(Exception):
    """libosinfo cannot be used: its typelib or its database is missing (the message says what to install)."""


@dataclass(frozen=True)
class InstallTree:
    """An installer tree: its URL and, where libosinfo knows them, the kernel and initrd inside it."""

    url: str
    kernel: str | None = None  # a path relative to the URL, e.g. "images/pxeboot/vmlinuz"
    initrd: str | None = None


@dataclass(frozen=True)
class TreeInfo:
    """What reading an install tree's .treeinfo found."""

    os: OsInfo | None
    kernel: str | None
    initrd: str | None


@dataclass(frozen=True)
class OsInfo:
    """One operating system as the wizard needs it (immutable; values for x86_64)."""

    short_id: str  # "debian11", "win11", "generic"
    name: str  # "Debian 11"
    vendor: str  # "" when unknown
    family: str  # "linux", "winnt", ... ("" when unknown)
    distro: str  # "debian", "win", ...
    version: str
    release_date: str | None  # "2021-08-14"
    eol: bool  # libosinfo's end-of-life date has passed
    # The recommendation falls back to the minimum when libosinfo recommends nothing, and is never below it.
    recommended_memory_mib: int | None
    recommended_vcpus: int | None
    recommended_storage_gib: int | None
    minimum_memory_mib: int | None
    minimum_storage_gib: int | None
    virtio_block: bool  # drivers for virtio-blk (else disks go on SATA)
    virtio_net: bool  # drivers for virtio-net (else e1000)
    virtio_gpu: bool
    qxl: bool
    usb_tablet: bool
    efi_only: bool  # needs UEFI (libosinfo lists BIOS as unsupported), e.g. win11
    uefi_supported: bool  # libosinfo lists UEFI as supported (False when it says nothing)
    os_id: str = ""  # libosinfo's id, e.g. "http://debian.org/debian/11" (libvirt's <libosinfo:os id=...>)
    aliases: tuple[str, ...] = ()  # the other short ids ("debianbullseye")
    # Network installs: where libosinfo knows this OS's installer trees (x86_64), and the kernel argument
    # that tells its installer the tree's URL ("inst.repo" for Fedora; None when it finds its own way).
    install_trees: tuple[InstallTree, ...] = ()
    kernel_url_argument: str | None = None

    @property
    def is_windows(self) -> bool:
        """Whether this is a Microsoft Windows (clock in local time, Hyper-V enlightenments...)."""
        return self.family in _WINDOWS_FAMILIES


GENERIC = OsInfo(
    short_id="generic",
    name="Generic or unknown OS",
    vendor="",
    family="",
    distro="",
    version="",
    release_date=None,
    eol=False,
    recommended_memory_mib=1024,
    recommended_vcpus=1,
    recommended_storage_gib=10,
    minimum_memory_mib=None,
    minimum_storage_gib=None,
    virtio_block=False,
    virtio_net=False,
    virtio_gpu=False,
    qxl=False,
    usb_tablet=True,  # USB HID is near universal and keeps the pointer in sync
    efi_only=False,
    uefi_supported=False,
)


class OsCatalog:
    """Every OS of the osinfo database as `OsInfo`, searchable; identifies install media and trees.

    `load` reads everything at once (in a worker), so `get` and `search` are plain Python afterwards.
    """

    def __init__(self, libosinfo: Any, db: Any, infos: list[OsInfo]) -> None:
        self._libosinfo = libosinfo
        self._db = db
        self._db_lock = threading.Lock()  # libosinfo's database is not documented as thread-safe
        self._by_short_id: dict[str, OsInfo] = {GENERIC.short_id: GENERIC}
        self._by_os_id: dict[str, OsInfo] = {}
        for info in infos:
            self._by_os_id[info.os_id] = info
            for sid in (info.short_id, *info.aliases):
                self._by_short_id.setdefault(sid, info)
        offered = [info for info in infos if info.os_id != _UNKNOWN_OS_ID]
        _sort_newest_first(offered)
        self._searchable = [(info, " ".join((info.name, info.short_id, *info.aliases)).casefold()) for info in offered]

    @classmethod
    def load(cls) -> OsCatalog:
        """The default osinfo database (system, /etc/osinfo, ~/.config/osinfo) (blocking, about a second).

        Raises OsinfoUnavailable when the typelib or the database is missing.
        """
        libosinfo = _import_libosinfo()
        loader = libosinfo.Loader()
        loader.process_default_path()
        db = loader.get_db()
        oslist = db.get_os_list()
        if oslist.get_length() == 0:
            raise OsinfoUnavailable(
                f"the osinfo database is empty or missing: install the Debian package {DATABASE_PACKAGE}"
            )
        today = datetime.date.today()
        resources = _ResourceReader(libosinfo)
        infos = [_os_info(oslist.get_nth(i), today, resources) for i in range(oslist.get_length())]
        return cls(libosinfo, db, infos)

    def __len__(self) -> int:
        """How many OSes the database holds (without GENERIC)."""
        return len(self._by_os_id)

    def get(self, short_id: str) -> OsInfo | None:
        """The OS with this short id or alias ("debian11", "debianbullseye", "generic"), or None."""
        return self._by_short_id.get(short_id) or self._by_short_id.get(short_id.strip().lower())

    def get_by_os_id(self, os_id: str) -> OsInfo | None:
        """The OS with this libosinfo id ("http://debian.org/debian/11"), e.g. read back from a domain's XML."""
        return self._by_os_id.get(os_id)

    def search(self, text: str, *, include_eol: bool = False, limit: int = 50) -> list[OsInfo]:
        """OSes whose name or short ids contain every word of `text` (case-insensitive), newest release first.

        A query that is exactly a short id puts that OS first. End-of-life OSes only come with
        `include_eol`, or when no other OS matches. An empty text gives the newest OSes.
        """
        words = text.casefold().split()
        found = [info for info, haystack in self._searchable if all(word in haystack for word in words)]
        if not include_eol:
            current = [info for info in found if not info.eol]
            found = current or found
        exact = "".join(words)
        found.sort(key=lambda info: exact not in (info.short_id, *info.aliases))  # stable: keeps the date order
        return found[: max(limit, 0)]

    def identify_media(self, path: str | os.PathLike[str]) -> OsInfo | None:
        """The OS an ISO image installs, from its volume/system/publisher ids (blocking; reads a few blocks).

        None when no OS of the database matches. A boot record is not required. Raises ValueError (naming
        the path) when the file is missing, unreadable or not an ISO 9660 image.
        """
        path = os.path.abspath(os.fspath(path))
        if not os.path.exists(path):
            raise ValueError(f"{path}: no such file")
        if os.path.isdir(path):
            raise ValueError(f"{path} is a directory, not an ISO image")
        glib = _gi_module("GLib")
        libosinfo = self._libosinfo
        try:
            media = libosinfo.Media.create_from_location_with_flags(path, None, 0)
        except glib.Error as exc:
            if exc.domain == glib.quark_to_string(libosinfo.media_error_quark()):
                if exc.code == int(libosinfo.MediaError.INSUFFICIENT_METADATA):
                    return None  # an ISO without the ids libosinfo matches on
                raise ValueError(f"{path} is not an ISO image ({exc.message})") from exc
            raise ValueError(f"{path}: {exc.message}") from exc
        with self._db_lock:
            if not self._db.identify_media(media):
                return None
            osobj = media.get_os()
        return self._by_os_id.get(osobj.get_id()) if osobj is not None else None

    def identify_tree(self, url: str, *, timeout: float = 30.0) -> OsInfo | None:
        """The OS of an install tree (see read_tree), or None."""
        info = self.read_tree(url, timeout=timeout)
        return info.os if info is not None else None

    def read_tree(self, url: str, *, timeout: float = 30.0) -> TreeInfo | None:
        """An install tree's .treeinfo (http, https or file URL): its OS and installer kernel and initrd
        (blocking; network).

        None when the tree has no .treeinfo (Debian and Ubuntu trees have none) or cannot be fetched in
        `timeout` seconds (offline); `os` is None when it matches no OS. Raises ValueError for a URL
        scheme libosinfo cannot fetch.
        """
        glib = _gi_module("GLib")
        gio = _gi_module("Gio")
        libosinfo = self._libosinfo
        cancellable = gio.Cancellable()
        timer = threading.Timer(timeout, cancellable.cancel)
        timer.daemon = True
        timer.start()
        try:
            tree = libosinfo.Tree.create_from_location(url, cancellable)
        except glib.Error as exc:
            not_supported = int(libosinfo.TreeError.NOT_SUPPORTED_PROTOCOL)
            if exc.domain == glib.quark_to_string(libosinfo.tree_error_quark()) and exc.code == not_supported:
                raise ValueError(f"{url}: not an http, https or file URL") from exc
            return None  # no .treeinfo, unreachable, timed out
        finally:
            timer.cancel()
        with self._db_lock:
            osobj = tree.get_os() if self._db.identify_tree(tree) else None
        found = self._by_os_id.get(osobj.get_id()) if osobj is not None else None
        return TreeInfo(found, tree.get_kernel_path() or None, tree.get_initrd_path() or None)


def _import_libosinfo() -> Any:
    """libosinfo's GObject-introspection module, or OsinfoUnavailable naming the package to install."""
    try:
        import gi

        gi.require_version("Libosinfo", "1.0")
        from gi.repository import Libosinfo
    except (ImportError, ValueError) as exc:
        raise OsinfoUnavailable(
            f"libosinfo is not available ({exc}): install the Debian package {TYPELIB_PACKAGE}"
        ) from exc
    return Libosinfo


def _gi_module(name: str) -> Any:
    """GLib or Gio through PyGObject (always there once libosinfo loaded)."""
    import importlib

    return importlib.import_module(f"gi.repository.{name}")


def _os_info(osobj: Any, today: datetime.date, resources: _ResourceReader) -> OsInfo:
    """An `OsInfo` from a libosinfo Os (devices and firmware include what it derives from)."""
    devices = osobj.get_all_devices(None)
    device_ids = {devices.get_nth(i).get_id() for i in range(devices.get_length())}
    efi_only, uefi = _firmware(osobj)
    rec_ram, rec_cpus, rec_storage = resources.recommended(osobj)
    min_ram, min_cpus, min_storage = resources.minimum(osobj)
    short_ids = list(osobj.get_short_id_list())
    short_id = osobj.get_short_id() or (short_ids[0] if short_ids else osobj.get_id())
    return OsInfo(
        short_id=short_id,
        name=osobj.get_name() or short_id,
        vendor=osobj.get_vendor() or "",
        family=osobj.get_family() or "",
        distro=osobj.get_distro() or "",
        version=osobj.get_version() or "",
        release_date=osobj.get_release_date_string(),
        eol=_eol_passed(osobj.get_eol_date_string(), today),
        recommended_memory_mib=_mib(_at_least(rec_ram, min_ram)),
        recommended_vcpus=_at_least(rec_cpus, min_cpus),
        recommended_storage_gib=_gib(_at_least(rec_storage, min_storage)),
        minimum_memory_mib=_mib(min_ram),
        minimum_storage_gib=_gib(min_storage),
        virtio_block=bool(device_ids & VIRTIO_BLOCK_IDS),
        virtio_net=bool(device_ids & VIRTIO_NET_IDS),
        virtio_gpu=bool(device_ids & VIRTIO_GPU_IDS),
        qxl=bool(device_ids & QXL_IDS),
        usb_tablet=bool(device_ids & USB_TABLET_IDS),
        efi_only=efi_only,
        uefi_supported=uefi,
        os_id=osobj.get_id(),
        aliases=tuple(sid for sid in short_ids if sid != short_id),
        install_trees=_trees(osobj),
        kernel_url_argument=osobj.get_kernel_url_argument() or None,
    )


def _trees(osobj: Any) -> tuple[InstallTree, ...]:
    trees = osobj.get_tree_list()
    found = []
    for i in range(trees.get_length()):
        tree = trees.get_nth(i)
        if tree.get_architecture() == ARCH and tree.get_url():
            found.append(InstallTree(tree.get_url(), tree.get_kernel_path() or None, tree.get_initrd_path() or None))
    return tuple(found)


def _firmware(osobj: Any) -> tuple[bool, bool]:
    """(needs UEFI, supports UEFI) on x86_64 from the firmware list, including inherited entries.

    osinfo-db says `<firmware arch="x86_64" type="efi"/>` for UEFI support and marks BIOS
    `supported="false"` where UEFI is required (Windows 11); most OSes list nothing.
    """
    firmwares = osobj.get_complete_firmware_list(None)
    supported: dict[str, bool] = {}
    for i in range(firmwares.get_length()):
        firmware = firmwares.get_nth(i)
        if firmware.get_architecture() == ARCH:
            supported.setdefault(firmware.get_firmware_type(), bool(firmware.is_supported()))
    uefi = supported.get("efi", False)
    return uefi and supported.get("bios") is False, uefi


_Resources = tuple[int | None, int | None, int | None]  # RAM bytes, vCPUs, storage bytes


class _ResourceReader:
    """Resources for x86_64 ("all" arches next, then i686 for 32-bit-only OSes), each value inherited
    from the OS it derives from when the OS itself gives none.

    libosinfo's resource getters do not look at derives-from (win7 has no recommendation, the Vista it
    derives from has one). Results are kept per OS: chains are long (fedora37 -> ... -> fedora1) and
    each getter call builds a new list.
    """

    ARCHES = (ARCH, "all", "i686")

    def __init__(self, libosinfo: Any) -> None:
        self._derives_from = libosinfo.ProductRelationship.DERIVES_FROM
        self._cache: dict[tuple[str, str], _Resources] = {}

    def recommended(self, osobj: Any) -> _Resources:
        return self._read(osobj, "get_recommended_resources", set())

    def minimum(self, osobj: Any) -> _Resources:
        return self._read(osobj, "get_minimum_resources", set())

    def _read(self, osobj: Any, getter: str, visiting: set[str]) -> _Resources:
        key = (osobj.get_id(), getter)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        visiting.add(key[0])
        resources = getattr(osobj, getter)()
        by_arch: dict[str, Any] = {}
        for i in range(resources.get_length()):
            res = resources.get_nth(i)
            by_arch.setdefault(res.get_architecture(), res)
        values: list[int | None] = [None, None, None]
        for arch in self.ARCHES:
            res = by_arch.get(arch)
            if res is not None:
                for index, value in enumerate((res.get_ram(), res.get_n_cpus(), res.get_storage())):
                    if values[index] is None and value > 0:
                        values[index] = int(value)
        parents = osobj.get_related(self._derives_from)
        if None in values and parents.get_length() and parents.get_nth(0).get_id() not in visiting:
            inherited = self._read(parents.get_nth(0), getter, visiting)
            values = [own if own is not None else parent for own, parent in zip(values, inherited, strict=True)]
        result = (values[0], values[1], values[2])
        self._cache[key] = result
        return result


def _at_least(recommended: int | None, minimum: int | None) -> int | None:
    """The recommendation, raised to the minimum; the minimum when there is no recommendation."""
    if recommended is None or minimum is None:
        return recommended if recommended is not None else minimum
    return max(recommended, minimum)


def _mib(size: int | None) -> int | None:
    return None if size is None else math.ceil(size / _MIB)


def _gib(size: int | None) -> int | None:
    return None if size is None else math.ceil(size / _GIB)


def _eol_passed(eol_date: str | None, today: datetime.date) -> bool:
    """Whether an end-of-life date ("2009-04-19") lies before `today`; False without a (readable) date."""
    if not eol_date:
        return False
    try:
        return datetime.date.fromisoformat(eol_date) < today
    except ValueError:
        return False


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """A sort key that orders "9.10" after "9.2" (numbers by value, other parts as text)."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|[^\d.]+", version))


def _sort_newest_first(infos: list[OsInfo]) -> None:
    """Dated releases newest first (then higher versions, then by name), the undated ones last."""
    infos.sort(key=lambda info: info.name)
    infos.sort(key=lambda info: _version_key(info.version), reverse=True)  # sorts are stable, also reversed
    infos.sort(key=lambda info: info.release_date or "", reverse=True)  # "" (no date) goes last
