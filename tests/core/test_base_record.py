"""Bases recorded in the guest's vmgui metadata on the test driver: written by make_base and protect_source, read
back by a fresh inspection (so clones link with no second overlay), and ignored once they no longer hold."""

from __future__ import annotations

import datetime
import logging
import threading
import xml.etree.ElementTree as ET
from typing import Any

import libvirt
import pytest

from tests.core import test_clone_base
from tests.core.test_clone import volumes
from tests.core.test_clone_base import Snapshotting, on_a_base
from vmgui.core import metadata
from vmgui.core.base_record import RecordedBase, record_bases, recorded_bases
from vmgui.core.clone import NEEDS_SHUTOFF, DiskMode, backing_file, clone_guest, inspect_disks
from vmgui.core.clone_base import make_base
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError
from vmgui.core.guest_creator import CreationCancelled

WEB = "/default-pool/web.qcow2"
TOP = "/default-pool/web-top-vda.qcow2"

conn = test_clone_base.conn  # the fixture: the running "web" guest on its qcow2 disk, and a raw one


def recent(made: datetime.datetime | None) -> bool:
    now = datetime.datetime.now(datetime.UTC)
    return made is not None and now - datetime.timedelta(minutes=1) <= made <= now


def test_make_base_records_the_bases_in_the_saved_and_the_live_metadata(conn: libvirt.virConnect) -> None:
    dom = conn.lookupByName("web")
    metadata.write_tags(dom, ["web", "prod"])
    make_base(Snapshotting(conn), dom.UUIDString(), ["vda"])  # type: ignore[arg-type]
    [(target, record)] = recorded_bases(dom).items()
    assert (target, record.target, record.path) == ("vda", "vda", WEB) and recent(record.made)
    live = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, metadata.NAMESPACE, libvirt.VIR_DOMAIN_AFFECT_LIVE)
    assert f"path=\"{WEB}\"" in live and 'target="vda"' in live
    saved = ET.fromstring(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    assert metadata.tags_from_domain(saved) == ("web", "prod")  # the other parts are kept
    # Snapshotting took no snapshot: the guest still runs on web.qcow2 while its saved definition names the overlay
    assert {d.target: d.why for d in inspect_disks(conn, dom)}["vda"] == NEEDS_SHUTOFF  # so the record is not trusted


def test_a_fresh_inspection_links_on_the_recorded_base_with_no_overlay_more(conn: libvirt.virConnect) -> None:
    uuid, base = on_a_base(conn)
    dom = conn.lookupByUUIDString(uuid)
    made = datetime.datetime(2025, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
    record_bases(dom, {"vda": base}, made)
    vda = {d.target: d for d in inspect_disks(conn, dom)}["vda"]  # no bases passed: read from the metadata
    assert vda.modes == (DiskMode.COPY, DiskMode.LINK, DiskMode.SHARE) and vda.why == ""
    assert vda.base is not None and vda.base.path == base and vda.base_made == made
    with pytest.raises(VmguiError, match=r"^vda cannot be made a base: it runs on an overlay of the base web\.qcow2 "
                                         r"already, which linked clones build on\.$"):
        make_base(conn, uuid, ["vda"])  # no second overlay layer
    clone = clone_guest(conn, uuid, "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE})
    disk = DomainXml(conn.lookupByUUIDString(clone.uuid).XMLDesc(0)).disks[0].source_path
    assert disk is not None and backing_file(conn, disk) == base
    assert DomainXml(dom.XMLDesc(0)).disks[0].source_path == TOP and backing_file(conn, TOP) == base
    assert sorted(volumes(conn)) == ["data.img", "web-clone-vda.qcow2", "web-top-vda.qcow2", "web.qcow2"]


def test_a_record_that_no_longer_holds_is_ignored(conn: libvirt.virConnect) -> None:
    uuid, base = on_a_base(conn)
    dom = conn.lookupByUUIDString(uuid)

    def vda() -> str:
        return {d.target: d.why for d in inspect_disks(conn, dom)}["vda"]
    record_bases(dom, {"vda": "/default-pool/data.img"})  # not what vda's overlay builds on
    assert vda() == NEEDS_SHUTOFF
    record_bases(dom, {"vdb": base})  # another disk's record
    assert set(recorded_bases(dom)) == {"vda", "vdb"} and vda() == NEEDS_SHUTOFF
    record_bases(dom, {"vda": base})
    assert vda() == ""
    saved = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
    conn.defineXML(saved.replace(f"<source file='{TOP}'/>", f"<source file='{WEB}'/>"))  # the next boot: the base
    assert vda() == NEEDS_SHUTOFF
    conn.defineXML(saved.replace("type='qcow2'/>", "type='raw'/>", 1))  # the overlay read as raw
    assert vda() == NEEDS_SHUTOFF
    conn.defineXML(saved)
    assert vda() == ""
    dom.destroy()  # shut off: linked clones build on its disk as it is, whatever the record says
    disk = {d.target: d for d in inspect_disks(conn, dom)}["vda"]
    assert disk.base is None and DiskMode.LINK in disk.modes and disk.link_to is not None
    assert disk.link_to.path == TOP


def test_protecting_a_shut_off_source_records_its_base_for_when_it_runs_again(conn: libvirt.virConnect) -> None:
    dom = conn.lookupByName("web")
    dom.destroy()
    clone_guest(conn, dom.UUIDString(), "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE},
                protect_base=True)
    assert {t: r.path for t, r in recorded_bases(dom).items()} == {"vda": WEB}
    dom.create()
    vda = {d.target: d for d in inspect_disks(conn, dom)}["vda"]
    assert vda.base is not None and vda.base.path == WEB and recent(vda.base_made)
    clone_guest(conn, dom.UUIDString(), "web-clone2", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE})
    assert backing_file(conn, "/default-pool/web-clone2-vda.qcow2") == WEB
    assert sorted(volumes(conn)) == ["data.img", "web-clone-vda.qcow2", "web-clone2-vda.qcow2",
                                     "web-top-vda.qcow2", "web.qcow2"]  # no second overlay for the source


def test_a_clone_cancelled_after_protecting_takes_the_record_back(conn: libvirt.virConnect) -> None:
    dom = conn.lookupByName("web")
    dom.destroy()
    cancel = threading.Event()

    def step(text: str) -> None:
        if text.startswith("Protecting"):
            cancel.set()  # cancelled while the source was protected
    with pytest.raises(CreationCancelled):
        clone_guest(conn, dom.UUIDString(), "web-clone", {"vda": DiskMode.LINK, "vdb": DiskMode.SHARE},
                    protect_base=True, progress=step, cancel=cancel)
    assert recorded_bases(dom) == {}
    assert DomainXml(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).disks[0].source_path == WEB
    assert sorted(volumes(conn)) == ["data.img", "web.qcow2"]


def test_records_replace_their_disks_only_and_bad_ones_are_read_safely(conn: libvirt.virConnect,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    dom = conn.lookupByName("web")
    first = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    record_bases(dom, {"vda": "/a.qcow2", "vdb": "/b.img"}, first)
    record_bases(dom, {"vda": "/c.qcow2"})
    bases = recorded_bases(dom)
    assert bases["vdb"] == RecordedBase("vdb", "/b.img", first) and bases["vda"].path == "/c.qcow2"
    holder = metadata.read_part(dom, "bases")
    assert holder is not None
    holder.append(holder.makeelement("base", {"target": "vdc", "path": "/d.img", "made": "yesterday"}))
    holder.append(holder.makeelement("base", {"target": "vdd"}))  # no path: not a record
    metadata.write_part(dom, "bases", holder)
    assert recorded_bases(dom)["vdc"] == RecordedBase("vdc", "/d.img", None) and "vdd" not in recorded_bases(dom)

    class Refusing:
        def __getattr__(self, name: str) -> Any:
            return getattr(dom, name)

        def setMetadata(self, *_args: Any) -> None:
            raise libvirt.libvirtError("metadata refused")
    with caplog.at_level(logging.WARNING):
        record_bases(Refusing(), {"vda": "/e.qcow2"})  # type: ignore[arg-type]
    assert "web: could not record its bases /e.qcow2" in caplog.text
    assert recorded_bases(dom)["vda"].path == "/c.qcow2"
