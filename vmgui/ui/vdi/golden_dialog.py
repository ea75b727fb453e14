"""The golden image dialog: a guest's published versions and what builds on them; publish a new one, retire one."""

from __future__ import annotations

import os
from dataclasses import dataclass

import libvirt
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vmgui.core.connection import Connection
from vmgui.core.errors import VmguiError, describe
from vmgui.core.vdi import golden
from vmgui.core.vdi.desktops import desktops
from vmgui.core.vdi.golden import GoldenVersion
from vmgui.ui.async_dialogs import confirm, show_error
from vmgui.ui.busy_status import busy_status_row
from vmgui.ui.problem_label import WARNING_STYLE, problem_label
from vmgui.ui.tasks import TaskGroup

INTRO = ("A golden image is a read-only copy of this guest's disk that pool desktops are made from. Each "
         "publication is a new version; the guest itself stays a normal guest you can change and publish again.")


@dataclass(frozen=True)
class VersionRow:
    version: GoldenVersion
    users: tuple[str, ...]     # desktops (or other volumes) building on it


@dataclass(frozen=True)
class GoldenState:
    rows: tuple[VersionRow, ...]   # oldest first
    next_number: int
    running: bool


def read_state(conn: libvirt.virConnect, uuid: str) -> GoldenState:
    """The guest's versions with what builds on each, the number the next one gets, whether it runs (blocking)."""
    dom = conn.lookupByUUIDString(uuid)
    image = golden.read_golden(dom)
    versions = image.versions if image else ()
    by_volume = {os.path.basename(d.disk): d.name for d in desktops(conn)} if versions else {}
    rows = tuple(VersionRow(v, tuple(by_volume.get(name, name) for name in golden.users(conn, v)))
                 for v in versions)
    # numbers are never reused: golden keeps the next one, which is not always the newest + 1
    next_number = max(golden._next_number(dom), (versions[-1].number + 1) if versions else 1)
    return GoldenState(rows, next_number, bool(dom.isActive()))


def _when(created: str) -> str:
    """'2025-03-01 14:05 UTC' from the ISO 8601 text golden keeps."""
    date, _, time = created.partition("T")
    return f"{date} {time[:5]} UTC" if time else created


def _message(err: Exception, doing: str) -> str:
    """Core's sentence as it is; a libvirt error as 'Could not <doing>: ...'."""
    return describe(err, doing) if isinstance(err, libvirt.libvirtError) else str(err)


class GoldenDialog(QDialog):
    """The golden image of one guest of `conn`: its versions, publish the next, retire one."""

    def __init__(self, conn: Connection, uuid: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("golden_dialog")
        self.setWindowTitle(f"Golden Image of {name}")
        self.resize(760, 420)
        self.connection = conn
        self.uuid = uuid
        self.guest_name = name
        self.tasks = TaskGroup()
        self.state: GoldenState | None = None
        self.busy = False
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.versions = QTreeWidget()
        self.versions.setObjectName("versions")
        self.versions.setHeaderLabels(["Version", "Published", "Note", "Used by"])
        self.versions.setRootIsDecorated(False)
        self.versions.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.versions.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(2, 220)
        header.setStretchLastSection(True)
        self.versions.itemSelectionChanged.connect(self.check)
        layout.addWidget(self.versions, 1)
        self.empty = QLabel("Nothing published yet: write a note and publish the first version.")
        self.empty.setObjectName("no_versions")
        self.empty.setVisible(False)
        layout.addWidget(self.empty)
        retire_row = QHBoxLayout()
        retire_row.addStretch(1)
        self.retire_button = QPushButton("Retire")
        self.retire_button.setObjectName("retire")
        self.retire_button.setToolTip("Delete the selected version's file; refused while desktops build on it")
        self.retire_button.clicked.connect(self.retire)
        retire_row.addWidget(self.retire_button)
        layout.addLayout(retire_row)
        box = QGroupBox("Publish a new version")
        box_layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.addWidget(QLabel("Note:"))
        self.note = QLineEdit()
        self.note.setObjectName("note")
        self.note.setPlaceholderText("What is in this version (e.g. \"office suite, March updates\")")
        self.publish_button = QPushButton("Publish")
        self.publish_button.setObjectName("publish")
        self.publish_button.setToolTip("Copy the guest's disk (the guest must be shut off) as a new read-only version")
        self.publish_button.clicked.connect(self.publish)
        self.note.returnPressed.connect(self.publish_button.click)
        row.addWidget(self.note, 1)
        row.addWidget(self.publish_button)
        box_layout.addLayout(row)
        self.hint = problem_label("golden_hint")
        self.hint.setStyleSheet(WARNING_STYLE)
        self.hint.setVisible(False)
        box_layout.addWidget(self.hint)
        layout.addWidget(box)
        status_row, self.progress, self.status = busy_status_row("Reading the versions…")
        layout.addLayout(status_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.check()
        self.refresh()

    # ---- reading ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.tasks.spawn(self._refresh())

    async def _refresh(self) -> None:
        uuid = self.uuid
        try:
            state = await self.connection.call(lambda conn: read_state(conn, uuid))
        except (VmguiError, libvirt.libvirtError) as err:  # a vanished guest or host is said, not raised
            self.status.setText(describe(err, f"read the golden image of {self.guest_name}"))
            return
        self._show(state)

    def _show(self, state: GoldenState) -> None:
        selected = self.selected()
        self.state = state
        self.versions.clear()
        for row in state.rows:
            v = row.version
            item = QTreeWidgetItem([v.label, _when(v.created), v.note, ", ".join(row.users) or "nothing"])
            item.setData(0, Qt.ItemDataRole.UserRole, v.number)
            item.setToolTip(3, "\n".join(row.users) or "No desktop builds on this version: it can be retired.")
            item.setToolTip(0, v.path)
            self.versions.addTopLevelItem(item)
            if selected is not None and v.number == selected.number:
                item.setSelected(True)
        self.empty.setVisible(not state.rows)
        self.publish_button.setText(f"Publish v{state.next_number}")
        self.hint.setText(f"{self.guest_name} is running: shut it down to publish a new version." if state.running
                          else "")
        self.hint.setVisible(state.running)
        if not self.busy:
            self.status.setText(f"{len(state.rows)} version{'s' if len(state.rows) != 1 else ''}."
                                if state.rows else "")
        self.check()

    def selected(self) -> GoldenVersion | None:
        if self.state is None:
            return None
        numbers = {item.data(0, Qt.ItemDataRole.UserRole) for item in self.versions.selectedItems()}
        return next((r.version for r in self.state.rows if r.version.number in numbers), None)

    def check(self) -> None:
        ready = self.state is not None and not self.busy
        self.publish_button.setEnabled(ready)
        self.note.setEnabled(not self.busy)
        self.retire_button.setEnabled(ready and self.selected() is not None)
        selected = self.selected()
        self.retire_button.setText(f"Retire {selected.label}" if selected else "Retire")

    def _set_busy(self, text: str | None) -> None:
        self.busy = text is not None
        self.progress.setVisible(self.busy)
        self.buttons.button(QDialogButtonBox.StandardButton.Close).setEnabled(not self.busy)
        if text is not None:
            self.status.setText(text)
        self.check()

    # ---- actions ----------------------------------------------------------------------------------

    def publish(self) -> None:
        if not self.busy and self.state is not None:
            self.tasks.spawn(self._publish())

    async def _publish(self) -> None:
        uuid, note = self.uuid, self.note.text().strip()
        label = self.publish_button.text().removeprefix("Publish ")
        self._set_busy(f"Publishing {label} of {self.guest_name}: copying its disk…")
        try:
            version = await self.connection.call(lambda conn: golden.publish(conn, uuid, note))
        except (VmguiError, libvirt.libvirtError) as err:
            self._set_busy(None)
            self.status.setText("")
            show_error(self, "Publish", _message(err, f"publish {self.guest_name}"))
            await self._refresh()
            return
        self._set_busy(None)
        self.note.clear()
        await self._refresh()
        self.status.setText(f"Published {version.label}.")

    def retire(self) -> None:
        version = self.selected()
        if not self.busy and version is not None:
            self.tasks.spawn(self._retire(version))

    async def _retire(self, version: GoldenVersion) -> None:
        if not await confirm(self, "Retire", f"Retire {version.label} of {self.guest_name}?",
                             f"Its file ({version.path}) is deleted; no desktop can be made on it any more, and "
                             f"the number {version.label} is not used again.", f"Retire {version.label}"):
            return
        uuid, number = self.uuid, version.number
        self._set_busy(f"Retiring {version.label}…")
        try:
            await self.connection.call(lambda conn: golden.retire(conn, uuid, number))
        except (VmguiError, libvirt.libvirtError) as err:
            self._set_busy(None)
            self.status.setText("")
            show_error(self, "Retire", _message(err, f"retire {version.label}"))
            await self._refresh()
            return
        self._set_busy(None)
        await self._refresh()
        self.status.setText(f"Retired {version.label}.")

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Rejected and self.busy:
            return  # core's copy cannot be stopped half-way; the status says what it is doing
        self.tasks.cancel_all()
        super().done(result)
