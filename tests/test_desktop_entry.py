"""The desktop entry registers vmgui for .vv files and vnc:// / spice:// links, as remote-viewer's does."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

RESOURCES = Path(__file__).parent.parent / "resources"


def entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(RESOURCES / "vmgui.desktop")
    return parser["Desktop Entry"]


def test_desktop_entry_handles_vv_files_and_console_links() -> None:
    e = entry()
    mime = [m for m in e["MimeType"].split(";") if m]
    assert {"application/x-virt-viewer", "x-scheme-handler/vnc", "x-scheme-handler/spice"} <= set(mime)
    assert e["Exec"] == "vmgui %u"  # one URL or file: viewer mode opens one console


def test_mime_type_for_vv_files() -> None:
    root = ET.parse(RESOURCES / "vmgui-mime.xml").getroot()
    ns = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}
    kind = root.find("m:mime-type", ns)
    assert kind is not None and kind.get("type") == "application/x-virt-viewer"
    glob = kind.find("m:glob", ns)
    assert glob is not None and glob.get("pattern") == "*.vv"


def test_desktop_file_validates() -> None:
    assert shutil.which("desktop-file-validate"), "desktop-file-utils (packaging/debian-packages.txt) is missing"
    result = subprocess.run(["desktop-file-validate", str(RESOURCES / "vmgui.desktop")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
