"""The New Guest wizard on the test-driver host: each page's checks, the XML editor, creation and its failures."""

from __future__ import annotations

import http.server
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import libvirt
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialogButtonBox,
    QMenu,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QWizard,
)

from tests.core.test_osinfo import DEBIAN11_NETINST_VOLUME, FEDORA37_TREEINFO, _make_iso
from tests.helpers import wait_until
from vmgui.core import storage
from vmgui.core.connection import Connection
from vmgui.core.domain_xml import DomainXml
from vmgui.core.domstate import GuestState
from vmgui.core.guest import GuestInfo
from vmgui.ui.main_window import MainWindow
from vmgui.ui.new_guest.wizard import NewGuestWizard
from vmgui.ui.new_guest.xml_editor import XmlEditorDialog

NEXT = QWizard.WizardButton.NextButton
BACK = QWizard.WizardButton.BackButton
CREATE = QWizard.WizardButton.FinishButton
HOST_MEMORY_MIB = 16384  # tests/data/host.xml: 16 GiB, 2 CPUs, one directory pool "default"
POOL = "default"


# ---- helpers ---------------------------------------------------------------------------------------------


def connection(window: MainWindow) -> Connection:
    return window.manager.connections[0]


def libvirt_host(window: MainWindow) -> libvirt.virConnect:
    """The libvirt connection behind the main window's host, to change the host behind vmgui's back."""
    session = connection(window)._session
    assert session is not None
    return session.conn


def visible_wizards(window: MainWindow) -> list[NewGuestWizard]:
    return [w for w in window.findChildren(NewGuestWizard) if w.isVisible()]


def open_wizard(window: MainWindow) -> NewGuestWizard:
    action = window.findChild(QAction, "action_new_guest")
    assert action is not None
    wait_until(action.isEnabled, what="New Guest enabled (a host is connected)")  # follows the status refresh
    action.trigger()
    wizards = visible_wizards(window)
    assert len(wizards) == 1
    return wizards[0]


def wait_ready(wizard: NewGuestWizard) -> None:
    """Until the host's choices and the OS list are read (the list loads once per process)."""
    wait_until(lambda: wizard.choices is not None and wizard.catalog is not None, what="host choices and OS list")


def click(wizard: NewGuestWizard, which: QWizard.WizardButton) -> None:
    button = wizard.button(which)
    assert button.isVisible() and button.isEnabled(), f"{button.text()} is not clickable"
    button.click()


def choose_method(wizard: NewGuestWizard, method: str) -> None:
    chosen = next(b for b in wizard.method_page.buttons.buttons() if b.objectName() == f"method_{method}")
    chosen.click()
    assert chosen.isChecked()


def search_os(wizard: NewGuestWizard, text: str) -> None:
    wizard.os_page.search.clear()
    QTest.keyClicks(wizard.os_page.search, text)


def type_number(spin: QAbstractSpinBox, text: str) -> None:
    """Replace the number in a spin box by typing, as a user would (the suffix stays)."""
    spin.setFocus()
    spin.selectAll()
    QTest.keyClicks(spin, text)


def to_resources(wizard: NewGuestWizard, os_query: str = "debian 11") -> None:
    """Manual install (no media to read), the first OS `os_query` finds, then the resources page."""
    wait_ready(wizard)
    choose_method(wizard, "manual")
    click(wizard, NEXT)
    search_os(wizard, os_query)
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_RESOURCES


def to_finish(wizard: NewGuestWizard, os_query: str = "debian 11") -> None:
    to_resources(wizard, os_query)
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_STORAGE
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_FINISH
    choose_vnc(wizard)


def choose_vnc(wizard: NewGuestWizard) -> None:
    """VNC instead of the default SPICE (the test driver takes both); the host's displays are what is offered."""
    graphics = wizard.finish_page.graphics
    assert [graphics.itemData(i) for i in range(graphics.count())] == ["spice", "vnc", "none"]
    graphics.setCurrentIndex(graphics.findData("vnc"))


def message_box(name: str) -> QMessageBox | None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QMessageBox) and w.isVisible() and w.objectName() == name:
            return w
    return None


def xml_editor(wizard: NewGuestWizard) -> XmlEditorDialog | None:
    shown = [d for d in wizard.findChildren(XmlEditorDialog, "xml_editor") if d.isVisible()]
    assert len(shown) <= 1
    return shown[0] if shown else None


def volumes(window: MainWindow, pool: str = POOL) -> list[str]:
    return [v.name for v in storage.list_volumes(libvirt_host(window), pool)]


def domain_names(window: MainWindow) -> list[str]:
    return sorted(d.name() for d in libvirt_host(window).listAllDomains(0))


def guest_named(window: MainWindow, name: str) -> GuestInfo | None:
    return next((g for g in connection(window).guests.values() if g.name == name), None)


def define_guest(window: MainWindow, name: str) -> None:
    """A guest defined on the host behind vmgui's back (as `virsh define` would)."""
    libvirt_host(window).defineXML(
        f"<domain type='test'><name>{name}</name><memory unit='MiB'>128</memory>"
        "<os><type>hvm</type></os></domain>")


@pytest.fixture(scope="module")
def debian_iso(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ISO 9660 image whose volume id libosinfo knows as a Debian 11 netinst."""
    return _make_iso(tmp_path_factory.mktemp("debian-iso"), DEBIAN11_NETINST_VOLUME)


@pytest.fixture
def wizard(window: MainWindow) -> Iterator[NewGuestWizard]:
    wiz = open_wizard(window)
    closed: list[int] = []
    wiz.finished.connect(closed.append)
    yield wiz
    if not closed:
        for editor in wiz.findChildren(XmlEditorDialog):
            editor.reject()
        wiz.reject()


# ---- page 1: method --------------------------------------------------------------------------------------


def test_opens_from_the_action_waits_for_the_host_then_needs_each_methods_field(window: MainWindow) -> None:
    wizard = open_wizard(window)
    page = wizard.method_page
    assert wizard.windowTitle() == f"New guest on {connection(window).name}"
    assert page.status.text() == "Reading what the host offers…"
    assert not wizard.button(NEXT).isEnabled()
    wait_until(lambda: page.status.text().startswith("Creating a guest on"), what="host read")
    assert page.status.text() == f"Creating a guest on {connection(window).name}."
    assert page.method().value == "media"
    assert not wizard.button(NEXT).isEnabled()  # no ISO yet

    QTest.keyClicks(page.media.edit, "/srv/isos/debian-11.iso")
    assert wizard.button(NEXT).isEnabled()
    page.media.edit.clear()
    assert not wizard.button(NEXT).isEnabled()
    QTest.keyClicks(page.media.edit, "   ")  # blanks are no path
    assert not wizard.button(NEXT).isEnabled()

    choose_method(wizard, "kernel")
    assert not wizard.button(NEXT).isEnabled()
    QTest.keyClicks(page.initrd.edit, "/boot/initrd.img")  # optional: not enough
    assert not wizard.button(NEXT).isEnabled()
    QTest.keyClicks(page.kernel.edit, "/boot/vmlinuz")
    assert wizard.button(NEXT).isEnabled()

    choose_method(wizard, "import")
    assert not wizard.button(NEXT).isEnabled()
    QTest.keyClicks(page.import_path.edit, "/var/lib/libvirt/images/old.qcow2")
    assert wizard.button(NEXT).isEnabled()

    choose_method(wizard, "manual")  # nothing to choose: blank disk, network boot
    assert wizard.button(NEXT).isEnabled()
    for radio in page.buttons.buttons():  # each choice offered is the method the wizard then follows
        radio.click()
        assert radio.objectName() == f"method_{page.method().value}" and radio.text() == page.method().label
    assert page.media.browse.isEnabled()  # a local host: its files can be browsed
    wizard.reject()
    wait_until(lambda: not visible_wizards(window), what="wizard closed")


def test_opens_from_the_connection_rows_context_menu(window: MainWindow) -> None:
    row = window.model.index(0, 0)
    window.tree.customContextMenuRequested.emit(window.tree.visualRect(row).center())
    menus = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMenu) and w.isVisible()]
    assert len(menus) == 1
    entry = next(a for a in menus[0].actions() if a.text() == "New Guest…")
    entry.trigger()
    menus[0].close()
    wizards = visible_wizards(window)
    assert len(wizards) == 1 and wizards[0].connection is connection(window)
    wizards[0].reject()


# ---- page 2: operating system ----------------------------------------------------------------------------


def test_searching_debian_11_selects_it_first(wizard: NewGuestWizard) -> None:
    wait_ready(wizard)
    choose_method(wizard, "manual")
    click(wizard, NEXT)
    page = wizard.os_page
    assert wizard.currentId() == NewGuestWizard.PAGE_OS
    assert not page.detect.isVisible()  # nothing to detect without install media
    search_os(wizard, "debian 11")
    assert page.list.currentRow() == 0
    assert page.selected().short_id == "debian11" and page.selected().name == "Debian 11"
    assert wizard.button(NEXT).isEnabled()
    search_os(wizard, "xyzzyplughq")
    assert page.list.count() == 0 and not wizard.button(NEXT).isEnabled()
    search_os(wizard, "generic")  # libosinfo's generic OSes, and vmgui's own for an unknown OS
    shown = [page.list.item(i).text() for i in range(page.list.count())]
    assert shown[-1] == "Generic or unknown OS" and wizard.button(NEXT).isEnabled()
    page.list.setCurrentRow(len(shown) - 1)
    assert page.selected().short_id == "generic"


def test_the_os_is_detected_from_the_install_media(wizard: NewGuestWizard, debian_iso: Path) -> None:
    wait_ready(wizard)
    wizard.method_page.media.edit.setText(str(debian_iso))
    click(wizard, NEXT)
    page = wizard.os_page
    assert page.detect.isVisible() and page.detect.isChecked()
    wait_until(lambda: page.detected.text().startswith("Detected"), what="detection")
    assert page.detected.text() == "Detected: Debian 11."
    assert page.selected().short_id == "debian11"
    assert page.list.currentItem() is not None and page.list.currentItem().isSelected()
    assert wizard.button(NEXT).isEnabled()

    click(wizard, BACK)  # back and forth over the same media keeps what was detected
    click(wizard, NEXT)
    wait_until(lambda: page.detected.text().startswith("Detected"), what="detection kept")
    assert page.selected().short_id == "debian11"
    click(wizard, NEXT)
    assert wizard.resources_page.memory.value() == 1024


def test_media_libosinfo_does_not_know_leaves_the_choice_to_the_user(wizard: NewGuestWizard,
                                                                      tmp_path: Path) -> None:
    iso = _make_iso(tmp_path, "NOT AN OS 1.0")
    wait_ready(wizard)
    wizard.method_page.media.edit.setText(str(iso))
    click(wizard, NEXT)
    page = wizard.os_page
    wait_until(lambda: "not one libosinfo knows" in page.detected.text(), what="no detection")
    assert page.list.currentItem() is not None and wizard.button(NEXT).isEnabled()  # the user picks one


# ---- page 3: memory and CPUs -----------------------------------------------------------------------------


def test_resources_follow_the_os_and_refuse_more_memory_than_the_host_has(wizard: NewGuestWizard) -> None:
    to_resources(wizard, "windows 11")
    page = wizard.resources_page
    assert (page.memory.value(), page.vcpus.value()) == (4096, 2)  # libosinfo's recommendation for Windows 11
    assert f"The host has {HOST_MEMORY_MIB} MiB of memory and 2 CPUs." in page.hint.text()
    assert "Windows 11: 4096 MiB recommended" in page.hint.text()

    click(wizard, BACK)
    search_os(wizard, "debian 11")
    click(wizard, NEXT)
    assert (page.memory.value(), page.vcpus.value()) == (1024, 1)  # another OS, its own suggestion
    assert page.problem.text() == "" and wizard.button(NEXT).isEnabled()

    type_number(page.memory, "32768")
    assert page.memory.value() == 32768
    assert page.problem.text() == f"32768 MiB is more memory than the host has ({HOST_MEMORY_MIB} MiB)."
    assert not wizard.button(NEXT).isEnabled()
    type_number(page.memory, "2048")
    assert page.memory.value() == 2048
    assert page.problem.text() == "" and wizard.button(NEXT).isEnabled()

    type_number(page.vcpus, "3")
    assert page.problem.text() == "3 virtual CPUs is more than this host offers (2)."
    assert not wizard.button(NEXT).isEnabled()
    type_number(page.vcpus, "2")
    assert page.problem.text() == "" and wizard.button(NEXT).isEnabled()

    click(wizard, BACK)  # the same OS again: what the user typed stays
    click(wizard, NEXT)
    assert (page.memory.value(), page.vcpus.value()) == (2048, 2)


# ---- page 4: storage -------------------------------------------------------------------------------------


def add_small_pool(window: MainWindow) -> None:
    """A second directory pool with 20 GiB free (the test driver gives every pool 100 GiB; a 80 GiB volume)."""
    host = libvirt_host(window)
    pool = host.storagePoolDefineXML(
        "<pool type='dir'><name>small</name><target><path>/var/lib/libvirt/small</path></target></pool>", 0)
    pool.create(0)
    pool.createXML("<volume><name>filler.raw</name><capacity unit='GiB'>80</capacity>"
                   "<allocation unit='GiB'>80</allocation><target><format type='raw'/></target></volume>", 0)


def pool_name(wizard: NewGuestWizard) -> str | None:
    pool = wizard.storage_page.selected_pool()
    return pool.name if pool is not None else None


def test_storage_size_follows_the_os_and_a_size_beyond_the_pools_space_only_warns(window: MainWindow) -> None:
    add_small_pool(window)
    wizard = open_wizard(window)
    to_resources(wizard, "ubuntu 22.04")
    click(wizard, NEXT)
    page = wizard.storage_page
    assert wizard.currentId() == NewGuestWizard.PAGE_STORAGE
    assert page.disk_size.value() == 25.0  # libosinfo's recommendation for Ubuntu 22.04
    click(wizard, BACK)
    click(wizard, BACK)
    search_os(wizard, "debian 11")
    click(wizard, NEXT)
    click(wizard, NEXT)
    assert page.disk_size.value() == 20.0  # Debian 11's

    assert [page.pool.itemText(i) for i in range(page.pool.count())] == [
        "default (100.0 GiB free)", "small (20.0 GiB free)"]
    assert pool_name(wizard) == POOL
    assert page.problem.text() == ""
    type_number(page.disk_size, "50")
    assert page.disk_size.value() == 50.0
    assert page.problem.text() == "" and wizard.button(NEXT).isEnabled()

    page.pool.setCurrentIndex(page.pool.findText("small (20.0 GiB free)"))
    assert pool_name(wizard) == "small"
    assert page.problem.text().startswith("The pool has 20.0 GiB free: the image starts small and grows, "
                                          "but it cannot reach 50 GiB")
    assert wizard.button(NEXT).isEnabled()  # qcow2 is sparse: a warning, not a stop

    page.pool.setCurrentIndex(0)
    assert page.problem.text() == ""
    page.create_disk.click()  # no disk: nothing to size
    assert not page.disk_size.isEnabled() and not page.pool.isEnabled() and wizard.button(NEXT).isEnabled()
    page.create_disk.click()
    assert page.disk_size.isEnabled() and page.pool.isEnabled()
    click(wizard, NEXT)
    assert "new 50 GiB disk image" in wizard.finish_page.summary.text()
    wizard.reject()


# ---- page 5: name, summary, customize --------------------------------------------------------------------


def test_finish_page_suggests_a_free_name_and_refuses_a_taken_one(window: MainWindow) -> None:
    define_guest(window, "debian11")  # the OS's short id is taken: the next free name is suggested
    wizard = open_wizard(window)
    to_finish(wizard)
    page = wizard.finish_page
    assert page.name.text() == "debian11-2"
    assert page.name_problem.text() == "" and wizard.button(CREATE).isEnabled()
    assert wizard.button(CREATE).text() == "Create"
    assert page.summary.text() == (f"Debian 11 · 1024 MiB · 1 vCPU · new 20 GiB disk image · TEST on "
                                   f"{connection(window).name}")
    assert [page.firmware.itemData(i) for i in range(page.firmware.count())] == ["bios"]  # no UEFI here
    network = page.network_option()
    assert network is not None and (network.kind, network.source) == ("network", "default")

    page.name.clear()
    QTest.keyClicks(page.name, "web-frontend")
    assert page.name_problem.text() == "A guest named 'web-frontend' already exists on this host."
    assert not wizard.button(CREATE).isEnabled()
    page.name.clear()
    assert page.name_problem.text() == "The guest needs a name." and not wizard.button(CREATE).isEnabled()
    QTest.keyClicks(page.name, "my guest")
    assert "letters, digits" in page.name_problem.text() and not wizard.button(CREATE).isEnabled()
    page.name.clear()
    QTest.keyClicks(page.name, "my-guest")
    assert page.name_problem.text() == "" and wizard.button(CREATE).isEnabled()
    wizard.reject()


def test_customize_opens_the_xml_editor_which_refuses_broken_xml_and_a_rename(
        window: MainWindow, wizard: NewGuestWizard) -> None:
    to_finish(wizard)
    wizard.finish_page.customize.click()
    wizard.finish_page.start.click()  # define only
    click(wizard, CREATE)
    wait_until(lambda: xml_editor(wizard) is not None, what="XML editor")
    editor = xml_editor(wizard)
    assert editor is not None
    create = editor.buttons.button(QDialogButtonBox.StandardButton.Ok)
    original = editor.xml()
    assert "<name>debian11</name>" in original and "/var/lib/libvirt/images/debian11.qcow2" in original
    assert create.text() == "Create" and create.isEnabled() and editor.error.text() == ""

    editor.edit.setPlainText(original.replace("</domain>", ""))  # not well-formed
    assert not create.isEnabled() and editor.error.text() != ""
    editor.edit.setPlainText(original.replace("<name>debian11</name>", "<name>renamed</name>"))
    assert not create.isEnabled()
    assert editor.error.text() == "Keep the name 'debian11' (rename the guest on the wizard's last page)."
    editor.edit.setPlainText(original)
    assert create.isEnabled() and editor.error.text() == ""

    editor.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()  # back to the wizard, nothing made
    wait_until(lambda: xml_editor(wizard) is None, what="editor closed")
    assert wizard.isVisible() and wizard.button(CREATE).isEnabled()
    assert "debian11" not in domain_names(window) and volumes(window) == []

    click(wizard, CREATE)  # again, and this time the edit is what libvirt gets
    wait_until(lambda: xml_editor(wizard) is not None, what="XML editor again")
    editor = xml_editor(wizard)
    assert editor is not None
    editor.edit.setPlainText(editor.xml().replace("<vcpu>1</vcpu>", "<vcpu>2</vcpu>"))
    editor.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: not visible_wizards(window), what="wizard closed")
    dom = libvirt_host(window).lookupByName("debian11")
    assert dom.info()[3] == 2 and not dom.isActive()
    assert volumes(window) == ["debian11.qcow2"]


# ---- creating --------------------------------------------------------------------------------------------


def test_create_makes_the_image_defines_and_starts_the_guest_and_selects_it(
        window: MainWindow, wizard: NewGuestWizard, debian_iso: Path) -> None:
    conn = connection(window)
    closed: list[int] = []
    wizard.finished.connect(closed.append)
    wait_ready(wizard)
    wizard.method_page.media.edit.setText(str(debian_iso))
    click(wizard, NEXT)
    wait_until(lambda: wizard.os_page.detected.text() == "Detected: Debian 11.", what="detection")
    click(wizard, NEXT)
    click(wizard, NEXT)
    click(wizard, NEXT)
    assert wizard.finish_page.name.text() == "debian11" and wizard.finish_page.start.isChecked()
    assert wizard.finish_page.graphics.currentData() == "spice"  # the default, as virt-manager's
    click(wizard, CREATE)
    wait_until(lambda: bool(closed), what="wizard closed after creating")
    assert closed == [QWizard.DialogCode.Accepted.value]
    assert message_box("error") is None

    wait_until(lambda: guest_named(window, "debian11") is not None, what="the new guest listed")
    guest = guest_named(window, "debian11")
    assert guest is not None
    wait_until(lambda: [g.name for _c, g in window.selected_guests()] == ["debian11"], what="the new guest selected")
    assert window.model.index_of_guest(conn, guest.uuid).isValid()
    wait_until(lambda: conn.guests[guest.uuid].state is GuestState.RUNNING, what="started")

    assert volumes(window) == ["debian11.qcow2"]
    image = storage.list_volumes(libvirt_host(window), POOL)[0]
    assert image.capacity == 20 * storage.GIB and image.format == "qcow2"
    xml = libvirt_host(window).lookupByName("debian11").XMLDesc(0)
    assert f"<source file='{image.path}'" in xml and f"<source file='{debian_iso}'" in xml
    assert "<graphics type='spice'" in xml and "<redirdev bus='usb' type='spicevmc'>" in xml


def test_a_name_taken_meanwhile_fails_keeps_the_wizard_open_and_leaves_nothing(
        window: MainWindow, wizard: NewGuestWizard) -> None:
    to_finish(wizard)
    assert wizard.finish_page.name.text() == "debian11" and wizard.button(CREATE).isEnabled()
    define_guest(window, "debian11")  # someone else takes the name while the wizard is open
    click(wizard, CREATE)
    wait_until(lambda: message_box("error") is not None, what="error box")
    box = message_box("error")
    assert box is not None
    assert box.text() == ("debian11 was not created: A guest named 'debian11' already exists on this host.\n"
                          "Nothing was left behind.")
    assert wizard.isVisible() and wizard.currentId() == NewGuestWizard.PAGE_FINISH
    # the host's names are read again: the name is now refused as you type, until it is changed
    wait_until(lambda: "already exists" in wizard.finish_page.name_problem.text(), what="the name refused")
    assert not wizard.button(CREATE).isEnabled()
    wizard.finish_page.name.setText("debian11-b")
    assert wizard.button(CREATE).isEnabled()
    assert volumes(window) == []
    dom = libvirt_host(window).lookupByName("debian11")
    assert dom.info()[1] == 128 * 1024  # the other guest, untouched
    box.close()


def test_xml_libvirt_refuses_removes_the_image_already_made(window: MainWindow, wizard: NewGuestWizard) -> None:
    to_finish(wizard)
    wizard.finish_page.customize.click()
    click(wizard, CREATE)
    wait_until(lambda: xml_editor(wizard) is not None, what="XML editor")
    editor = xml_editor(wizard)
    assert editor is not None
    editor.edit.setPlainText(editor.xml().replace('bus="virtio"', 'bus="bogus"', 1))  # parses; libvirt refuses
    editor.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    wait_until(lambda: message_box("error") is not None, what="error box")
    box = message_box("error")
    assert box is not None
    assert box.text().startswith("debian11 was not created: libvirt did not accept the guest's XML")
    assert "bogus" in box.text()
    assert wizard.isVisible() and wizard.button(CREATE).isEnabled()
    assert volumes(window) == [] and "debian11" not in domain_names(window)
    box.close()


# ---- import ----------------------------------------------------------------------------------------------


def test_import_skips_the_storage_page_and_uses_the_image(window: MainWindow, wizard: NewGuestWizard) -> None:
    wait_ready(wizard)
    assert wizard.method_page.subTitle() == "Step 1 of 5: the install method."
    choose_method(wizard, "import")
    assert wizard.method_page.subTitle() == "Step 1 of 4: the install method."
    QTest.keyClicks(wizard.method_page.import_path.edit, "/var/lib/libvirt/images/old.qcow2")
    click(wizard, NEXT)
    assert not wizard.os_page.detect.isVisible()
    search_os(wizard, "debian 11")
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_RESOURCES
    assert wizard.resources_page.subTitle().startswith("Step 3 of 4: ")
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_FINISH  # not storage: the image is the disk
    assert wizard.finish_page.subTitle() == "Step 4 of 4: name, network, firmware and display."
    assert "· imported disk image ·" in wizard.finish_page.summary.text()
    click(wizard, BACK)
    assert wizard.currentId() == NewGuestWizard.PAGE_RESOURCES
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_FINISH

    wizard.finish_page.start.click()
    choose_vnc(wizard)
    click(wizard, CREATE)
    wait_until(lambda: not visible_wizards(window), what="wizard closed")
    wait_until(lambda: guest_named(window, "debian11") is not None, what="imported guest listed")
    xml = libvirt_host(window).lookupByName("debian11").XMLDesc(0)
    assert "<source file='/var/lib/libvirt/images/old.qcow2'/>" in xml and "type='qcow2'" in xml
    assert volumes(window) == []  # nothing new made
    guest = guest_named(window, "debian11")
    assert guest is not None and guest.state is GuestState.SHUTOFF


def test_escape_closes_the_wizard_without_creating(window: MainWindow, wizard: NewGuestWizard) -> None:
    before = domain_names(window)
    to_finish(wizard)
    QTest.keyClick(wizard, Qt.Key.Key_Escape)
    wait_until(lambda: not visible_wizards(window), what="wizard closed")
    assert domain_names(window) == before and volumes(window) == []


def test_a_network_install_detects_the_trees_os_and_a_host_that_cannot_take_the_installer_is_undone(
        window: MainWindow, wizard: NewGuestWizard, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    tree = root / "fedora"
    (tree / "images" / "pxeboot").mkdir(parents=True)
    (tree / ".treeinfo").write_text(FEDORA37_TREEINFO)
    (tree / "images" / "pxeboot" / "vmlinuz").write_bytes(b"kernel")
    (tree / "images" / "pxeboot" / "initrd.img").write_bytes(b"initrd")
    wait_ready(wizard)
    choose_method(wizard, "network")
    page = wizard.method_page
    assert not wizard.button(NEXT).isEnabled()
    QTest.keyClicks(page.url, "deb.debian.org/debian")
    assert "http://, https://, ftp:// or file:// URL" in page.url_problem.text() and not wizard.button(NEXT).isEnabled()
    page.url.setText(f"{base}/fedora")
    page.url_args.setText("console=ttyS0")
    assert page.url_problem.text() == "" and wizard.button(NEXT).isEnabled()
    click(wizard, NEXT)
    wait_until(lambda: wizard.os_page.detected.text() == "Detected: Fedora Linux 37.", what="the tree OS")
    assert wizard.os_page.selected().short_id == "fedora37"
    assert wizard.tree is not None and wizard.tree.kernel_url == f"{base}/fedora/images/pxeboot/vmlinuz"
    click(wizard, NEXT)
    click(wizard, NEXT)
    click(wizard, NEXT)
    assert wizard.currentId() == NewGuestWizard.PAGE_FINISH
    choose_vnc(wizard)
    start = wizard.finish_page.start
    assert start.isChecked() and not start.isEnabled()  # the installer runs by starting the guest
    plan = wizard.plan()
    assert (plan.install_url, plan.cmdline) == (f"{base}/fedora", "console=ttyS0")
    # libvirt's test driver cannot take uploads: the creation fails after the disk image was made, and undoes it
    click(wizard, CREATE)
    wait_until(lambda: message_box("error") is not None, timeout=20, what="error box")
    box = message_box("error")
    assert box is not None and "virStorageVolUpload" in box.text() and "Nothing was left behind" in box.text()
    assert volumes(window) == [] and "fedora37" not in domain_names(window)
    box.close()


def test_a_host_without_a_pool_is_offered_the_default_pool(window: MainWindow) -> None:
    host = libvirt_host(window)
    for pool in host.listAllStoragePools(0):  # a fresh host: no storage pool at all
        if pool.isActive():
            pool.destroy()
        pool.undefine()
    wizard = open_wizard(window)
    to_resources(wizard)
    click(wizard, NEXT)
    page = wizard.storage_page
    assert "no storage pool for disk images" in page.problem.text() and not wizard.button(NEXT).isEnabled()
    assert page.make_default.isVisible()
    assert page.make_default.text() == "Create the storage pool 'default' in /var/lib/libvirt/images"
    page.make_default.click()
    wait_until(lambda: page.selected_pool() is not None, what="the new pool")
    made = page.selected_pool()
    assert made is not None and (made.name, made.path, made.active) == ("default", "/var/lib/libvirt/images", True)
    assert not page.make_default.isVisible() and page.problem.text() == "" and wizard.button(NEXT).isEnabled()
    assert host.storagePoolLookupByName("default").autostart() == 1
    wizard.reject()


def test_an_imported_image_keeps_its_real_format_whatever_its_name(window: MainWindow, tmp_path: Path) -> None:
    """A qcow2 image named .img, as a local file and as a pool volume: the guest reads it as qcow2 (a raw
    driver over a qcow2 file would show the guest the image's metadata, not its disk)."""
    local = tmp_path / "legacy.img"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(local), "1G"], check=True)
    libvirt_host(window).storagePoolLookupByName(POOL).createXML(
        "<volume><name>pooled.img</name><capacity unit='GiB'>1</capacity>"
        "<target><format type='qcow2'/></target></volume>", 0)
    for name, pick in (("from-file", lambda w: w.method_page.import_path.edit.setText(str(local))),
                       ("from-pool", pick_pool_volume)):
        wizard = open_wizard(window)
        wait_ready(wizard)
        choose_method(wizard, "import")
        pick(wizard)
        click(wizard, NEXT)
        click(wizard, NEXT)
        click(wizard, NEXT)
        assert wizard.currentId() == NewGuestWizard.PAGE_FINISH
        wizard.finish_page.name.setText(name)
        wizard.finish_page.start.click()
        choose_vnc(wizard)
        click(wizard, CREATE)
        wait_until(lambda: not visible_wizards(window), what="wizard closed")
        disk = DomainXml(libvirt_host(window).lookupByName(name).XMLDesc(0)).disks[0]
        assert disk.driver_type == "qcow2", name
    assert DomainXml(libvirt_host(window).lookupByName("from-pool").XMLDesc(0)).disks[0].source_file == \
        "/var/lib/libvirt/images/pooled.img"


def pick_pool_volume(wizard: NewGuestWizard) -> None:
    """Choose the image in the 'From a storage pool' list, as a user would."""
    volumes = wizard.method_page.import_path.volumes
    assert volumes.isVisible()
    index = volumes.findText("pooled.img (default, 1.0 GiB)")
    assert index > 0
    volumes.setCurrentIndex(index)
    volumes.activated.emit(index)
    assert wizard.method_page.import_path.text() == "/var/lib/libvirt/images/pooled.img"


def test_the_finish_page_offers_only_the_firmware_and_displays_the_host_runs(window: MainWindow) -> None:
    wizard = open_wizard(window)
    wait_ready(wizard)
    assert wizard.choices is not None
    host = wizard.choices.caps
    wizard.choices = replace(wizard.choices, caps=replace(host, firmware=("bios", "efi"), graphics_types=("vnc",)))
    page = wizard.finish_page

    def offered(combo: QComboBox) -> list[str]:
        return [combo.itemData(i) for i in range(combo.count())]

    to_resources(wizard, "windows 11")
    click(wizard, NEXT)
    click(wizard, NEXT)
    assert offered(page.graphics) == ["vnc", "none"]  # no SPICE on this host: not offered
    assert offered(page.firmware) == ["efi"] and not page.firmware.isEnabled()  # Windows 11 needs UEFI
    assert page.firmware_problem.text() == "" and wizard.button(CREATE).isEnabled()
    for _ in range(3):
        click(wizard, BACK)
    search_os(wizard, "debian 11")
    for _ in range(3):
        click(wizard, NEXT)
    assert offered(page.firmware) == ["bios", "efi"] and page.firmware.isEnabled()

    wizard.choices = replace(wizard.choices, caps=replace(host, firmware=("bios",)))  # no OVMF on the host
    for _ in range(3):
        click(wizard, BACK)
    search_os(wizard, "windows 11")
    for _ in range(3):
        click(wizard, NEXT)
    assert [page.firmware.itemText(i) for i in range(page.firmware.count())] == ["UEFI (this host has none)"]
    assert page.firmware_problem.text() == ("Microsoft Windows 11 needs UEFI firmware, and this host has none: "
                                            "install OVMF (Debian package ovmf) on it.")
    assert not wizard.button(CREATE).isEnabled()
    wizard.reject()


def test_a_network_install_always_gets_a_new_disk(wizard: NewGuestWizard) -> None:
    wait_ready(wizard)
    choose_method(wizard, "network")
    wizard.method_page.url.setText("http://127.0.0.1:9/tree")  # nothing answers: the OS is picked by hand
    click(wizard, NEXT)
    wait_until(lambda: "No installer kernel and initrd were found" in wizard.os_page.detected.text(),
               what="the tree not found")
    search_os(wizard, "debian 11")
    click(wizard, NEXT)
    click(wizard, NEXT)
    page = wizard.storage_page
    assert page.create_disk.isChecked() and not page.create_disk.isEnabled()  # the installer goes in its pool
    assert page.create_disk.text().endswith("(a network install needs one: the installer is put in its pool)")
    click(wizard, BACK)
    click(wizard, BACK)
    click(wizard, BACK)
    choose_method(wizard, "manual")
    for _ in range(3):
        click(wizard, NEXT)
    assert page.create_disk.isEnabled() and page.create_disk.text() == "Create a disk image for the guest"


class TricklingTree(http.server.BaseHTTPRequestHandler):
    """An install tree whose installer kernel downloads slowly (a far mirror): 4 KiB every 50 ms of 64 MiB."""

    def do_HEAD(self) -> None:
        known = self.path.endswith(("/images/pxeboot/vmlinuz", "/images/pxeboot/initrd.img"))
        self.send_response(200 if known else 404)
        self.send_header("Content-Length", str(64 * 1024 * 1024 if known else 0))
        self.end_headers()

    def do_GET(self) -> None:
        if not self.path.endswith("/images/pxeboot/vmlinuz"):
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(64 * 1024 * 1024))
        self.end_headers()
        try:
            for _ in range(64 * 256):
                self.wfile.write(bytes(4096))
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the client went away: cancelled

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def trickling_tree() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TricklingTree)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tree"
    server.shutdown()
    server.server_close()


def progress_dialog(wizard: NewGuestWizard) -> QProgressDialog | None:
    shown = [d for d in wizard.findChildren(QProgressDialog, "creation_progress") if d.isVisible()]
    return shown[0] if shown else None


def test_cancel_in_the_progress_dialog_stops_the_download_and_removes_the_new_image(
        window: MainWindow, wizard: NewGuestWizard, trickling_tree: str) -> None:
    wait_ready(wizard)
    choose_method(wizard, "network")
    wizard.method_page.url.setText(trickling_tree)
    click(wizard, NEXT)
    wait_until(lambda: "does not say its OS" in wizard.os_page.detected.text(), what="the installer found")
    search_os(wizard, "debian 11")
    for _ in range(3):
        click(wizard, NEXT)
    choose_vnc(wizard)
    click(wizard, CREATE)
    wait_until(lambda: progress_dialog(wizard) is not None
               and "Downloading the installer's kernel" in progress_dialog(wizard).labelText(),  # type: ignore[union-attr]
               what="the download under way")
    assert volumes(window) == ["debian11.qcow2"]  # made before the download: the undo must remove it
    assert not wizard.button(CREATE).isEnabled()
    dialog = progress_dialog(wizard)
    assert dialog is not None
    cancel = dialog.findChild(QPushButton, "cancel_creation")
    assert cancel is not None and cancel.isEnabled()
    cancel.click()
    assert dialog.isVisible() and dialog.labelText() == "Cancelling: removing what was made so far…"
    assert not cancel.isEnabled()
    # seconds, not the 20 minutes the download would take
    wait_until(lambda: message_box("error") is not None, timeout=5, what="the cancel confirmed")
    box = message_box("error")
    assert box is not None and box.text() == "Cancelled: nothing was left behind."
    assert progress_dialog(wizard) is None
    assert volumes(window) == [] and "debian11" not in domain_names(window)
    assert wizard.isVisible() and wizard.button(CREATE).isEnabled()  # the user can change something and retry
    box.close()
