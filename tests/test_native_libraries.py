"""Native libraries stay apart: lxml's own libxml2 is never mixed with the system's (which GI loads globally)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LOAD_GI_LIBRARIES = """
import vmgui  # what every vmgui process imports first
import gi
gi.require_version("Libosinfo", "1.0")
gi.require_version("SpiceClientGLib", "2.0")
from gi.repository import Libosinfo, SpiceClientGLib
Libosinfo.Db()  # their libraries (and the system libxml2 they need) are loaded now, with RTLD_GLOBAL
SpiceClientGLib.Session()
import lxml.etree
lxml.etree.fromstring(b"<domain><name>x</name></domain>")
"""


def test_lxml_never_binds_to_the_system_libxml2_that_gi_loads(tmp_path: Path) -> None:
    env = {**os.environ, "LD_DEBUG": "bindings", "LD_DEBUG_OUTPUT": str(tmp_path / "ld")}
    subprocess.run([sys.executable, "-c", LOAD_GI_LIBRARIES], env=env, check=True, capture_output=True, timeout=60)
    bindings = "".join(p.read_text(errors="replace") for p in tmp_path.glob("ld.*"))
    assert "libosinfo" in bindings and "libspice-client-glib" in bindings  # the libraries were loaded
    mixed = [line for line in bindings.splitlines()
             if "lxml/etree" in line.split(" to ")[0] and "libxml2.so" in line.split(" to ")[-1]]
    assert mixed == [], mixed[:3]
