"""The New Guest wizard: collects a NewGuestPlan page by page, then creates the guest in the background."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QWidget, QWizard

from vmgui.core import storage
from vmgui.core.connection import Connection
from vmgui.core.errors import VmguiError, describe
from vmgui.core.guest_creator import CreatedGuest, CreationCancelled, predicted_disk_path
from vmgui.core.host_choices import HostChoices, read_host_choices
from vmgui.core.install_tree import TreeBoot, locate_tree
from vmgui.core.new_guest import DiskPlan, InstallMethod, NewGuestPlan, build_domain, plan_problems
from vmgui.core.osinfo import OsCatalog, OsinfoUnavailable
from vmgui.ui.async_dialogs import dialog_result, show_error
from vmgui.ui.new_guest.creation import create_with_progress
from vmgui.ui.new_guest.finish_page import FinishPage
from vmgui.ui.new_guest.method_page import MethodPage
from vmgui.ui.new_guest.os_page import OsPage
from vmgui.ui.new_guest.resources_page import ResourcesPage
from vmgui.ui.new_guest.storage_page import StoragePage
from vmgui.ui.new_guest.xml_editor import XmlEditorDialog
from vmgui.ui.tasks import TaskGroup

log = logging.getLogger(__name__)

_catalog: OsCatalog | None = None  # loaded once per process: a second of work, the same every time


class NewGuestWizard(QWizard):
    """One wizard for one connection; emits `created` with the new guest once it exists."""

    created = Signal(object)  # CreatedGuest

    PAGE_METHOD, PAGE_OS, PAGE_RESOURCES, PAGE_STORAGE, PAGE_FINISH = range(5)

    def __init__(self, connection: Connection, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("new_guest_wizard")
        self.setWindowTitle(f"New guest on {connection.name}")
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage)
        self.resize(680, 560)
        self.connection = connection
        self.connection_name = connection.name
        self.tasks = TaskGroup()
        self.choices: HostChoices | None = None
        self.catalog: OsCatalog | None = _catalog
        self.catalog_problem: str | None = None
        self.tree: TreeBoot | None = None  # the install tree's installer, once found (network installs)
        self.method_page = MethodPage(self)
        self.os_page = OsPage(self)
        self.resources_page = ResourcesPage(self)
        self.storage_page = StoragePage(self)
        self.finish_page = FinishPage(self)
        for page_id, page in enumerate((self.method_page, self.os_page, self.resources_page, self.storage_page,
                                        self.finish_page)):
            self.setPage(page_id, page)
        self._step_details = {page_id: self.page(page_id).subTitle() for page_id in self.pageIds()}
        self.currentIdChanged.connect(self.number_step)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Create")
        self.creating = False
        self.tasks.spawn(self._load())

    async def _load(self) -> None:
        uri = self.connection.uri
        try:
            self.choices = await self.connection.call(lambda conn: read_host_choices(conn, uri))
        except Exception as err:  # any failure reading the host is shown on the first page
            self.method_page.host_failed(describe(err, f"read what {self.connection_name} offers"))
            return
        self.method_page.host_ready()
        if self.catalog is None:
            try:
                self.catalog = await asyncio.to_thread(_load_catalog)
            except OsinfoUnavailable as err:
                self.catalog_problem = f"No OS list ({err}); the guest gets generic devices."
            self.os_page.catalog_ready()

    def nextId(self) -> int:
        current = self.currentId()
        if current == self.PAGE_RESOURCES and self.method_page.method() is InstallMethod.IMPORT:
            return self.PAGE_FINISH  # the imported image is the disk
        return int(super().nextId())

    def steps(self) -> list[int]:
        """The pages this install method goes through, in order."""
        skipped = {self.PAGE_STORAGE} if self.method_page.method() is InstallMethod.IMPORT else set()
        return [page_id for page_id in self.pageIds() if page_id not in skipped]

    def number_step(self, page_id: int) -> None:
        """Say in the page's subtitle which step of how many it is for the chosen install method."""
        steps = self.steps()
        if page_id in steps:
            self.page(page_id).setSubTitle(
                f"Step {steps.index(page_id) + 1} of {len(steps)}: {self._step_details[page_id]}")

    # ---- the plan --------------------------------------------------------------------------------------

    def plan(self) -> NewGuestPlan:
        """The choices made on every page, as one plan (with the new image's predicted path)."""
        method = self.method_page.method()
        name = self.finish_page.name.text().strip()
        disk: DiskPlan | None = None
        if method is InstallMethod.IMPORT:
            path = self.method_page.import_path.text()
            disk = DiskPlan(path=path, format=_format_of(path, self.choices))
        elif self.storage_page.create_disk.isChecked():
            pool = self.storage_page.selected_pool()
            disk = DiskPlan(pool=pool.name if pool else None, size_gib=self.storage_page.disk_size.value())
        plan = NewGuestPlan(
            name=name, method=method, os=self.os_page.selected(),
            memory_mib=self.resources_page.memory.value(), vcpus=self.resources_page.vcpus.value(), disk=disk,
            media=self.method_page.media.text() or None, kernel=self.method_page.kernel.text() or None,
            initrd=self.method_page.initrd.text() or None,
            install_url=self.method_page.url.text().strip() or None if method is InstallMethod.NETWORK else None,
            cmdline=(self.method_page.url_args if method is InstallMethod.NETWORK
                     else self.method_page.cmdline).text().strip() or None,
            network=self.finish_page.network_option(), firmware=self.finish_page.firmware.currentData() or "bios",
            graphics=self.finish_page.graphics.currentData() or "none",
        )
        return plan

    def domain_xml(self, plan: NewGuestPlan) -> str:
        """The XML for `plan`; a new image is named by the path its pool will give it."""
        assert self.choices is not None
        disk = plan.disk
        shown = plan
        if disk is not None and disk.is_new:
            pool = next((p for p in self.choices.pools if p.name == disk.pool), None)
            predicted = predicted_disk_path(pool, plan.name, disk.format) if pool else None
            if predicted is None:
                raise VmguiError(f"New disk images can only go in directory pools, not in '{disk.pool}'.")
            shown = _with_disk_path(plan, predicted)
        return build_domain(shown, self.choices.caps).to_xml()

    # ---- finishing --------------------------------------------------------------------------------------

    def accept(self) -> None:
        if not self.creating:
            self.tasks.spawn(self._create())

    async def _create(self) -> None:
        assert self.choices is not None
        plan = self.plan()
        if plan.disk is not None and plan.disk.path and plan.method is InstallMethod.IMPORT and self.choices.local:
            probed = await asyncio.to_thread(storage.probe_format, plan.disk.path)  # its bytes, not its name
            if probed is not None:
                plan = replace(plan, disk=replace(plan.disk, format=probed))
        problems = plan_problems(plan, self.choices.caps, taken=set(self.choices.taken_names))
        if problems:
            show_error(self, "New guest", "\n".join(problems))
            return
        try:
            xml = self.domain_xml(plan)
        except VmguiError as err:
            show_error(self, "New guest", str(err))
            return
        tree: TreeBoot | None = None
        if plan.method is InstallMethod.NETWORK:
            tree = await self._installer(plan)
            if tree is None:
                return
        if self.finish_page.customize.isChecked():
            edited = await _edit_xml(self, xml, plan.name)
            if edited is None:
                return
            xml = edited
        self.creating = True
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        try:
            guest = await create_with_progress(self, self.connection, plan, xml,
                                               start=self.finish_page.start.isChecked(), tree=tree)
        except CreationCancelled as err:
            show_error(self, "New guest", str(err))
            return
        except VmguiError as err:
            show_error(self, "New guest", f"{plan.name} was not created: {err}\nNothing was left behind.")
            self.tasks.spawn(self._refresh_names())  # a name taken meanwhile is refused as you type again
            return
        finally:
            self.creating = False
            self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        self.created.emit(guest)
        super().accept()

    async def _installer(self, plan: NewGuestPlan) -> TreeBoot | None:
        """The install tree's installer (found on the OS page, else now); None after showing why not."""
        url = plan.install_url or ""
        if self.tree is not None and self.tree.url == url.rstrip("/"):
            return self.tree
        try:
            self.tree = await asyncio.to_thread(locate_tree, self.catalog, url, plan.os)
        except VmguiError as err:
            show_error(self, "New guest", str(err))
            return None
        return self.tree

    async def _refresh_names(self) -> None:
        if self.choices is None:
            return
        try:
            names = await self.connection.call(lambda conn: frozenset(d.name() for d in conn.listAllDomains(0)))
        except VmguiError:
            return
        self.choices = replace(self.choices, taken_names=names)
        self.finish_page.name_changed()

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Rejected and self.creating:
            return  # the progress dialog's Cancel stops a creation, not Escape on the wizard
        self.tasks.cancel_all()
        super().done(result)


def _load_catalog() -> OsCatalog:
    global _catalog
    if _catalog is None:
        _catalog = OsCatalog.load()
    return _catalog


def _format_of(path: str, choices: HostChoices | None) -> str:
    """An imported image's format: what its pool says (libvirt probed it), else a guess from its name."""
    volume = next((v for v in choices.images if v.path == path), None) if choices is not None else None
    if volume is not None and volume.format:
        return volume.format
    lowered = path.lower()
    return "qcow2" if lowered.endswith(".qcow2") else "vmdk" if lowered.endswith(".vmdk") else "raw"


def _with_disk_path(plan: NewGuestPlan, path: str) -> NewGuestPlan:
    assert plan.disk is not None
    return replace(plan, disk=replace(plan.disk, path=path))


async def _edit_xml(parent: QWidget, xml: str, name: str) -> str | None:
    dialog = XmlEditorDialog(xml, name, parent)
    try:
        return dialog.xml() if await dialog_result(dialog) == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()


__all__ = ["CreatedGuest", "NewGuestWizard"]
