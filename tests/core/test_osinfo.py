"""OsCatalog on the machine's real osinfo database: OS facts, search, ISO and install-tree detection."""

from __future__ import annotations

import datetime
import re
import shutil
import socket
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vmgui.core import osinfo
from vmgui.core.osinfo import GENERIC, OsCatalog, OsinfoUnavailable

OS_DIR = Path("/usr/share/osinfo/os")
DEBIAN11_XML = OS_DIR / "debian.org" / "debian-11.xml"
WIN11_XML = OS_DIR / "microsoft.com" / "win-11.xml"
DEBIAN11_NETINST_VOLUME = "Debian 11.0.0 amd64 n"

# A Fedora 37 Server install tree's .treeinfo (productmd format, as on the mirrors).
FEDORA37_TREEINFO = """\
[header]
type = productmd.treeinfo
version = 1.2

[release]
name = Fedora
short = Fedora
version = 37

[general]
family = Fedora
version = 37
arch = x86_64
variant = Server
platforms = x86_64,xen
name = Fedora-37

[tree]
arch = x86_64
platforms = x86_64,xen
variants = Server

[images-x86_64]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img
"""


@pytest.fixture(scope="module")
def catalog() -> OsCatalog:
    return OsCatalog.load()


def _os_element(path: Path) -> ET.Element:
    os_element = ET.parse(path).getroot().find("os")
    assert os_element is not None
    return os_element


def _make_iso(directory: Path, volume_id: str, *, bootable: bool = True) -> Path:
    """An ISO 9660 image with this volume id (an El Torito boot record like real install media)."""
    xorriso = shutil.which("xorriso")
    assert xorriso, "xorriso is missing: apt-get install xorriso (packaging/debian-packages.txt)"
    content = directory / "content"
    content.mkdir()
    (content / "README.txt").write_text("test medium\n")
    (content / "boot.img").write_bytes(bytes(2048))
    iso = directory / "medium.iso"
    boot = ["-b", "boot.img", "-no-emul-boot", "-boot-load-size", "4"] if bootable else []
    subprocess.run(
        [xorriso, "-as", "mkisofs", "-quiet", "-V", volume_id, *boot, "-o", str(iso), str(content)],
        check=True,
        capture_output=True,
    )
    return iso


# --- OS facts -----------------------------------------------------------------------------------


def test_catalog_holds_every_os_of_the_database(catalog: OsCatalog) -> None:
    os_ids = {
        os_element.get("id", "") for path in OS_DIR.rglob("*.xml") for os_element in ET.parse(path).getroot().iter("os")
    }
    assert len(os_ids) > 100
    assert len(catalog) == len(os_ids)
    assert all(catalog.get_by_os_id(os_id) is not None for os_id in os_ids)


def test_debian11_facts(catalog: OsCatalog) -> None:
    debian = catalog.get("debian11")
    assert debian is not None
    assert (debian.short_id, debian.name, debian.family, debian.distro) == ("debian11", "Debian 11", "linux", "debian")
    assert debian.vendor == "Debian Project" and debian.version == "11"
    assert debian.release_date == "2021-08-14"
    assert debian.os_id == "http://debian.org/debian/11" and "debianbullseye" in debian.aliases
    assert debian.virtio_block and debian.virtio_net and debian.virtio_gpu and debian.usb_tablet
    assert not debian.efi_only and not debian.is_windows


def test_devices_are_inherited_through_derives_from(catalog: OsCatalog) -> None:
    debian_xml = _os_element(DEBIAN11_XML)
    own_devices = {d.get("id") for d in debian_xml.iter("device")}
    assert "http://pcisig.com/pci/1af4/1001" not in own_devices  # virtio-blk comes from Debian 10
    assert debian_xml.find("derives-from") is not None
    debian = catalog.get("debian11")
    assert debian is not None and debian.virtio_block


def test_debian11_resources_are_the_databases_in_mib_and_gib(catalog: OsCatalog) -> None:
    resources = _os_element(DEBIAN11_XML).find("resources")
    assert resources is not None and resources.get("arch") == "all"
    recommended_ram = int(resources.findtext("recommended/ram", "0"))
    recommended_storage = int(resources.findtext("recommended/storage", "0"))
    minimum_ram = int(resources.findtext("minimum/ram", "0"))
    debian = catalog.get("debian11")
    assert debian is not None
    assert debian.recommended_memory_mib is not None and debian.recommended_memory_mib > 0
    assert debian.recommended_memory_mib == recommended_ram // 2**20
    assert debian.recommended_storage_gib == recommended_storage // 2**30
    assert debian.minimum_memory_mib == minimum_ram // 2**20
    assert debian.recommended_vcpus == 1  # Debian recommends no CPU count; its minimum is 1


def test_win11_needs_uefi_as_the_database_says(catalog: OsCatalog) -> None:
    firmware = {
        (f.get("arch"), f.get("type")): f.get("supported", "true") for f in _os_element(WIN11_XML).iter("firmware")
    }
    assert firmware == {("x86_64", "efi"): "true", ("x86_64", "bios"): "false"}
    win11 = catalog.get("win11")
    assert win11 is not None
    assert win11.efi_only and win11.uefi_supported and win11.is_windows and win11.family == "winnt"


def test_win11_without_a_recommendation_gets_its_minimum(catalog: OsCatalog) -> None:
    win11_xml = _os_element(WIN11_XML)
    assert win11_xml.find("resources/recommended") is None
    minimum = win11_xml.find("resources[@arch='x86_64']/minimum")
    assert minimum is not None
    win11 = catalog.get("win11")
    assert win11 is not None
    assert win11.minimum_memory_mib == int(minimum.findtext("ram", "0")) // 2**20 == 4096
    assert win11.recommended_memory_mib == win11.minimum_memory_mib
    assert win11.recommended_vcpus == int(minimum.findtext("n-cpus", "0")) == 2
    assert win11.recommended_storage_gib == win11.minimum_storage_gib == 64


def test_recommendations_are_never_below_the_minimum(catalog: OsCatalog) -> None:
    for info in catalog.search("", include_eol=True, limit=10_000):
        for recommended, minimum in (
            (info.recommended_memory_mib, info.minimum_memory_mib),
            (info.recommended_storage_gib, info.minimum_storage_gib),
        ):
            if minimum is not None:
                assert recommended is not None and recommended >= minimum, info.short_id


def test_resources_come_from_the_parent_when_the_os_has_none(catalog: OsCatalog) -> None:
    win7_xml = _os_element(OS_DIR / "microsoft.com" / "win-7.xml")
    assert win7_xml.find("resources/recommended") is None  # Windows 7 derives from Vista, which has them
    win7, vista = catalog.get("win7"), catalog.get("winvista")
    assert win7 is not None and vista is not None
    assert vista.recommended_storage_gib is not None
    assert win7.recommended_storage_gib == max(vista.recommended_storage_gib, win7.minimum_storage_gib or 0)


def test_32_bit_only_windows_uses_its_i686_resources(catalog: OsCatalog) -> None:
    win2k_xml = _os_element(OS_DIR / "microsoft.com" / "win-2k.xml")
    assert {r.get("arch") for r in win2k_xml.iter("resources")} == {"i686"}
    win2k = catalog.get("win2k")
    assert win2k is not None
    assert win2k.recommended_memory_mib == int(win2k_xml.findtext("resources/recommended/ram", "0")) // 2**20


def test_old_windows_has_no_virtio_and_is_end_of_life(catalog: OsCatalog) -> None:
    for short_id in ("winxp", "win2k", "win98"):
        info = catalog.get(short_id)
        assert info is not None, short_id
        assert not info.virtio_block and not info.virtio_net and not info.virtio_gpu, short_id
        assert info.eol and info.is_windows and not info.efi_only, short_id


def test_get_by_alias_generic_and_unknown(catalog: OsCatalog) -> None:
    assert catalog.get("debianbullseye") is catalog.get("debian11")
    assert catalog.get(" Debian11 ") is catalog.get("debian11")
    assert catalog.get("generic") is GENERIC
    assert catalog.get("no-such-os") is None
    assert catalog.get_by_os_id("http://microsoft.com/win/11") is catalog.get("win11")


def test_generic_is_conservative() -> None:
    assert not (GENERIC.virtio_block or GENERIC.virtio_net or GENERIC.virtio_gpu or GENERIC.efi_only)
    assert (GENERIC.recommended_memory_mib, GENERIC.recommended_vcpus, GENERIC.recommended_storage_gib) == (1024, 1, 10)


def test_end_of_life_means_the_date_has_passed() -> None:
    today = datetime.date(2024, 6, 1)
    assert osinfo._eol_passed("2024-05-31", today)
    assert not osinfo._eol_passed("2024-06-01", today)
    assert not osinfo._eol_passed(None, today)
    assert not osinfo._eol_passed("someday", today)


# --- search -------------------------------------------------------------------------------------


def test_search_debian_11_finds_debian11_first(catalog: OsCatalog) -> None:
    assert catalog.search("debian 11")[0].short_id == "debian11"
    assert catalog.search("DEBIAN 11") == catalog.search("debian 11")
    assert catalog.search("bullseye")[0].short_id == "debian11"  # aliases count as short ids


def test_search_every_word_must_match(catalog: OsCatalog) -> None:
    results = catalog.search("windows server", include_eol=True, limit=500)
    assert results and all("windows" in r.name.lower() and "server" in r.name.lower() for r in results)


def test_empty_search_gives_the_newest_current_oses(catalog: OsCatalog) -> None:
    results = catalog.search("")
    assert len(results) == 50
    assert not any(r.eol for r in results)
    dates = [r.release_date or "" for r in results]
    assert dates == sorted(dates, reverse=True)
    assert len(catalog.search("", limit=3)) == 3


def test_search_of_nonsense_is_empty(catalog: OsCatalog) -> None:
    assert catalog.search("xyzzyplughq") == []
    assert catalog.search("debian xyzzyplughq") == []


def test_end_of_life_oses_only_when_asked_or_nothing_else_matches(catalog: OsCatalog) -> None:
    windows = catalog.search("windows", limit=500)
    assert windows and not any(r.eol for r in windows)
    assert "winxp" not in [r.short_id for r in windows]
    assert "winxp" in [r.short_id for r in catalog.search("windows", include_eol=True, limit=500)]
    xp = catalog.search("windows xp")
    assert xp and all(r.eol for r in xp) and xp[0].short_id == "winxp"


def test_a_query_that_is_a_short_id_comes_first(catalog: OsCatalog) -> None:
    assert catalog.search("win2k", include_eol=True)[0].short_id == "win2k"
    newest = catalog.search("win2k")  # Windows 2000 is end of life: the newest Windows Server leads
    assert newest[0].short_id != "win2k" and not newest[0].eol


# --- install media ------------------------------------------------------------------------------


def test_identify_a_debian11_netinst_iso(catalog: OsCatalog, tmp_path: Path) -> None:
    media = _os_element(DEBIAN11_XML).find("media[@arch='x86_64']")
    assert media is not None
    regex = media.findtext("iso/volume-id")
    assert regex and re.match(regex, DEBIAN11_NETINST_VOLUME)
    iso = _make_iso(tmp_path, DEBIAN11_NETINST_VOLUME)
    found = catalog.identify_media(str(iso))
    assert found is not None and found.short_id == "debian11"
    assert catalog.identify_media(iso) is found  # a Path works too


def test_identify_a_non_bootable_iso_by_its_ids(catalog: OsCatalog, tmp_path: Path) -> None:
    iso = _make_iso(tmp_path, DEBIAN11_NETINST_VOLUME, bootable=False)
    found = catalog.identify_media(str(iso))
    assert found is not None and found.short_id == "debian11"


def test_an_iso_of_an_unknown_os_gives_none(catalog: OsCatalog, tmp_path: Path) -> None:
    iso = _make_iso(tmp_path, "QZX RANDOM 4711")
    assert catalog.identify_media(str(iso)) is None


def test_a_missing_iso_is_a_clear_error(catalog: OsCatalog, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.iso"
    with pytest.raises(ValueError, match=re.escape(str(missing))):
        catalog.identify_media(str(missing))
    with pytest.raises(ValueError, match="directory"):
        catalog.identify_media(str(tmp_path))


def test_a_file_that_is_not_an_iso_is_a_clear_error(catalog: OsCatalog, tmp_path: Path) -> None:
    not_iso = tmp_path / "notes.iso"
    not_iso.write_bytes(b"just some text, not ISO 9660\n" * 4000)
    with pytest.raises(ValueError, match=re.escape(str(not_iso)) + ".*not an ISO"):
        catalog.identify_media(str(not_iso))


# --- install trees ------------------------------------------------------------------------------


@pytest.fixture
def fedora37_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "fedora37"
    tree.mkdir()
    (tree / ".treeinfo").write_text(FEDORA37_TREEINFO)
    return tree


def test_identify_a_fedora37_tree_over_http(
    catalog: OsCatalog, fedora37_tree: Path, http_root: tuple[str, Path]
) -> None:
    base, root = http_root
    found = catalog.identify_tree(f"{base}/{fedora37_tree.relative_to(root)}")
    assert found is not None and found.short_id == "fedora37"


def test_identify_a_local_tree(catalog: OsCatalog, fedora37_tree: Path) -> None:
    found = catalog.identify_tree(fedora37_tree.as_uri())
    assert found is not None and found.short_id == "fedora37"


def test_a_tree_without_treeinfo_gives_none(catalog: OsCatalog, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    (root / "empty").mkdir()
    assert catalog.identify_tree(f"{base}/empty") is None


def test_an_unreachable_tree_gives_none(catalog: OsCatalog) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    assert catalog.identify_tree(f"http://127.0.0.1:{port}/tree") is None


@pytest.mark.timeout(60)
def test_a_server_that_never_answers_gives_none_after_the_timeout(catalog: OsCatalog) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)  # the kernel accepts the connection; nobody ever reads or answers
        port = listener.getsockname()[1]
        assert catalog.identify_tree(f"http://127.0.0.1:{port}/tree", timeout=0.5) is None


def test_a_tree_url_libosinfo_cannot_fetch_is_a_clear_error(catalog: OsCatalog, fedora37_tree: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(str(fedora37_tree))):
        catalog.identify_tree(str(fedora37_tree))  # a path, not a URL
    with pytest.raises(ValueError, match="ftp://"):
        catalog.identify_tree("ftp://127.0.0.1/tree")


# --- libosinfo missing --------------------------------------------------------------------------


def test_missing_typelib_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    import gi

    def require_version(namespace: str, version: str) -> None:
        raise ValueError(f"Namespace {namespace} not available")

    monkeypatch.setattr(gi, "require_version", require_version)
    with pytest.raises(OsinfoUnavailable, match=re.escape("gir1.2-libosinfo-1.0")):
        OsCatalog.load()


def test_missing_database_names_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in ("OSINFO_SYSTEM_DIR", "OSINFO_LOCAL_DIR", "OSINFO_USER_DIR"):
        empty = tmp_path / variable
        empty.mkdir()
        monkeypatch.setenv(variable, str(empty))
    monkeypatch.delenv("OSINFO_DATA_DIR", raising=False)
    with pytest.raises(OsinfoUnavailable, match="osinfo-db"):
        OsCatalog.load()
