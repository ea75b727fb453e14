"""Finding an install tree's installer over HTTP and file URLs, and downloading it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.core.test_osinfo import FEDORA37_TREEINFO
from vmgui.core.errors import VmguiError
from vmgui.core.install_tree import fetch, locate_tree, url_problem
from vmgui.core.osinfo import OsCatalog


@pytest.fixture(scope="module")
def catalog() -> OsCatalog:
    return OsCatalog.load()


def put(root: Path, relative: str, data: bytes = b"x") -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_tree_with_treeinfo_says_its_os_its_installer_and_its_repo_argument(
        catalog: OsCatalog, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    put(root, "fedora/.treeinfo", FEDORA37_TREEINFO.encode())
    put(root, "fedora/images/pxeboot/vmlinuz")
    put(root, "fedora/images/pxeboot/initrd.img")
    boot = locate_tree(catalog, f"{base}/fedora/")
    assert boot.os is not None and boot.os.short_id == "fedora37"
    assert (boot.url, boot.kernel_url, boot.initrd_url) == (
        f"{base}/fedora", f"{base}/fedora/images/pxeboot/vmlinuz", f"{base}/fedora/images/pxeboot/initrd.img")
    assert boot.cmdline == f"inst.repo={base}/fedora"


def test_a_debian_tree_is_found_where_libosinfo_says_the_chosen_os_keeps_it(
        catalog: OsCatalog, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    debian = catalog.get("debian11")
    assert debian is not None and debian.install_trees
    tree = debian.install_trees[0]
    assert tree.kernel and tree.initrd
    put(root, f"mirror/{tree.kernel}")
    put(root, f"mirror/{tree.initrd}")
    boot = locate_tree(catalog, f"{base}/mirror", debian)
    assert boot.os is None and boot.kernel_url == f"{base}/mirror/{tree.kernel}" and boot.cmdline == ""


def test_common_layouts_without_catalog_or_os(tmp_path: Path) -> None:
    put(tmp_path, "suse/boot/x86_64/loader/linux")
    put(tmp_path, "suse/boot/x86_64/loader/initrd")
    boot = locate_tree(None, (tmp_path / "suse").as_uri())
    assert boot.kernel_url.endswith("/suse/boot/x86_64/loader/linux") and boot.os is None


def test_a_tree_without_an_installer_says_where_it_looked(catalog: OsCatalog, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    put(root, "empty/README")
    put(root, "half/images/pxeboot/vmlinuz")  # a kernel without its initrd does not count
    for tree in ("empty", "half"):
        with pytest.raises(VmguiError, match=r"No installer kernel and initrd were found at .*images/pxeboot"):
            locate_tree(catalog, f"{base}/{tree}")


@pytest.mark.parametrize(("url", "problem"), [
    ("deb.debian.org/debian", "http://, https://, ftp:// or file:// URL"),
    ("nfs://server/tree", "http://, https://, ftp:// or file:// URL"),
    ("http:///path", "names no server"),
])
def test_bad_urls(url: str, problem: str) -> None:
    assert problem in (url_problem(url) or "")
    with pytest.raises(VmguiError, match=problem.replace("/", ".").replace(",", ".")):
        locate_tree(None, url)
    assert url_problem("https://deb.debian.org/debian/dists/bookworm/main/installer-amd64") is None


def test_fetch_downloads_and_reports_failures(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, root = http_root
    put(root, "k", b"k" * 300_000)
    assert fetch(f"{base}/k", tmp_path / "got") == 300_000 and (tmp_path / "got").read_bytes() == b"k" * 300_000
    with pytest.raises(VmguiError, match=r"Could not download .*/missing"):
        fetch(f"{base}/missing", tmp_path / "nothing")
