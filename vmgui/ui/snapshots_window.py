"""A guest's snapshots: the tree (current one in bold, a thumbnail of the screen when taken), take, revert,
delete, describe."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from pathlib import Path

import libvirt
from PySide6.QtCore import QSize, QStandardPaths, Qt
from PySide6.QtGui import QCloseEvent, QFont, QIcon, QImage, QPixmap, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vmgui.core import snapshots
from vmgui.core.connection import Connection
from vmgui.core.errors import VmguiError
from vmgui.core.snapshots import SnapshotInfo, SnapshotKind
from vmgui.ui.async_dialogs import confirm, dialog_result, show_error
from vmgui.ui.tasks import TaskGroup

THUMBNAIL = QSize(96, 72)


def thumbnail_path(uuid: str, snapshot: str) -> Path:
    """Where the screen of a running guest is kept for its snapshot (this user's cache)."""
    cache = Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation))
    return cache / "snapshots" / uuid / (hashlib.sha1(snapshot.encode()).hexdigest()[:16] + ".png")


class TakeSnapshotDialog(QDialog):
    """Name, description and kind of a new snapshot; kinds the host cannot take now are greyed and say why."""

    def __init__(self, suggested: str, problems: dict[SnapshotKind, str | None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("take_snapshot")
        self.setWindowTitle("Take a snapshot")
        self.setMinimumWidth(520)
        form = QFormLayout(self)
        self.name = QLineEdit(suggested)
        self.name.setObjectName("snapshot_name")
        self.description = QLineEdit()
        self.description.setObjectName("snapshot_description")
        self.mode = QComboBox()
        self.mode.setObjectName("snapshot_mode")
        model = self.mode.model()
        assert isinstance(model, QStandardItemModel)
        for kind in SnapshotKind:
            self.mode.addItem(kind.label, kind)
            if problems.get(kind):
                item = model.item(self.mode.count() - 1)
                item.setEnabled(False)
                item.setToolTip(problems[kind] or "")
        possible = [i for i, kind in enumerate(SnapshotKind) if not problems.get(kind)]
        self.mode.setCurrentIndex(possible[0] if possible else 0)
        self.refused = QLabel("\n".join(f"Not possible: {problem}" for problem in problems.values() if problem))
        self.refused.setObjectName("snapshot_refused")
        self.refused.setWordWrap(True)
        self.refused.setVisible(bool(self.refused.text()))
        form.addRow("Name:", self.name)
        form.addRow("Description:", self.description)
        form.addRow("Kind:", self.mode)
        form.addRow(self.refused)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Take Snapshot")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(bool(possible))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def kind(self) -> SnapshotKind:
        kind = self.mode.currentData()
        assert isinstance(kind, SnapshotKind)
        return kind


class SnapshotsWindow(QWidget):
    """The snapshots of one guest, kept up to date after each action."""

    def __init__(self, connection: Connection, uuid: str, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setObjectName("snapshots_window")
        self.setWindowTitle(f"Snapshots of {name}")
        self.resize(760, 420)
        self.connection = connection
        self.uuid = uuid
        self.tasks = TaskGroup()
        self.snapshots: list[SnapshotInfo] = []
        layout = QVBoxLayout(self)
        self.tree = QTreeWidget()
        self.tree.setObjectName("snapshot_tree")
        self.tree.setHeaderLabels(["Snapshot", "Taken", "State", "Description"])
        self.tree.setIconSize(THUMBNAIL)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        layout.addWidget(self.tree, 1)
        self.status = QLabel()
        self.status.setObjectName("snapshot_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        self.take_button = QPushButton("Take Snapshot…")
        self.revert_button = QPushButton("Revert…")
        self.delete_button = QPushButton("Delete…")
        self.describe_button = QPushButton("Edit Description…")
        for button, slot in ((self.take_button, self.take), (self.revert_button, self.revert),
                             (self.delete_button, self.delete), (self.describe_button, self.describe)):
            button.clicked.connect(lambda _checked=False, slot=slot: self.tasks.spawn(slot()))
            row.addWidget(button)
        row.addStretch(1)
        layout.addLayout(row)
        self._selection_changed()
        self.tasks.spawn(self.refresh())

    # ---- reading --------------------------------------------------------------------------------

    async def refresh(self) -> None:
        uuid = self.uuid
        try:
            self.snapshots = await self.connection.call(
                lambda conn: snapshots.read_snapshots(conn.lookupByUUIDString(uuid)))
        except Exception as err:  # the guest or host may be gone
            self.status.setText(f"Could not read the snapshots: {err}")
            return
        self.tree.clear()
        self._add_children(None, None)
        self.tree.expandAll()
        for column in range(3):
            self.tree.resizeColumnToContents(column)
        if not self.snapshots:
            self.status.setText("No snapshots yet.")
        elif not self.status.text().startswith(("Reverted", "Took", "Deleted")):
            self.status.setText("")
        self._selection_changed()

    def _add_children(self, parent_item: QTreeWidgetItem | None, parent: str | None) -> None:
        for snap in snapshots.children(self.snapshots, parent):
            taken = snap.created.astimezone().strftime("%Y-%m-%d %H:%M")
            state = {"shutoff": "Shut off", "disk-snapshot": "Disks only"}.get(snap.state, snap.state.capitalize())
            item = QTreeWidgetItem([snap.name + ("  (current)" if snap.current else ""), taken,
                                    state + (", external" if snap.external else ""), snap.description])
            item.setData(0, Qt.ItemDataRole.UserRole, snap.name)
            if snap.current:
                font = QFont(item.font(0))
                font.setBold(True)
                item.setFont(0, font)
            picture = thumbnail_path(self.uuid, snap.name)
            if picture.exists():
                item.setIcon(0, QIcon(QPixmap(str(picture))))
            if parent_item is None:
                self.tree.addTopLevelItem(item)
            else:
                parent_item.addChild(item)
            self._add_children(item, snap.name)

    def selected(self) -> SnapshotInfo | None:
        items = self.tree.selectedItems()
        name = items[0].data(0, Qt.ItemDataRole.UserRole) if items else None
        return next((s for s in self.snapshots if s.name == name), None)

    def select(self, name: str) -> None:
        for item in self.tree.findItems("*", Qt.MatchFlag.MatchWildcard | Qt.MatchFlag.MatchRecursive):
            if item.data(0, Qt.ItemDataRole.UserRole) == name:
                self.tree.setCurrentItem(item)

    def _selection_changed(self) -> None:
        chosen = self.selected() is not None
        for button in (self.revert_button, self.delete_button, self.describe_button):
            button.setEnabled(chosen)

    # ---- actions --------------------------------------------------------------------------------

    async def take(self) -> None:
        taken = {s.name for s in self.snapshots}
        suggested = datetime.datetime.now().strftime("snapshot-%Y%m%d-%H%M%S")
        uuid = self.uuid
        try:
            problems = await self.connection.call(
                lambda conn: snapshots.kind_problems(conn, conn.lookupByUUIDString(uuid)))
        except Exception as err:  # the guest or host may be gone
            show_error(self, "Snapshot", f"Could not read the guest: {err}")
            return
        dialog = TakeSnapshotDialog(suggested if suggested not in taken else suggested + "-2", problems, self)
        try:
            if await dialog_result(dialog) != QDialog.DialogCode.Accepted:
                return
            name, description, kind = dialog.name.text().strip(), dialog.description.text(), dialog.kind()
        finally:
            dialog.deleteLater()
        self.status.setText(f"Taking the snapshot {name}…")
        try:
            made, screen = await self.connection.call(
                lambda conn: snapshots.take(conn, uuid, name, description, kind=kind))
        except VmguiError as err:
            self.status.setText("")
            show_error(self, "Snapshot", str(err))
            return
        if screen:
            image = QImage.fromData(screen)
            if not image.isNull():
                path = thumbnail_path(self.uuid, made.name)
                path.parent.mkdir(parents=True, exist_ok=True)
                image.scaled(THUMBNAIL * 2, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation).save(str(path))
        self.status.setText(f"Took the snapshot {made.name}.")
        await self.refresh()
        self.select(made.name)

    async def revert(self) -> None:
        snap = self.selected()
        if snap is None:
            return
        then = {"running": "running", "paused": "paused", "shutoff": "shut off"}.get(snap.state, "as it was")
        uuid = self.uuid
        try:  # what the host cannot do is said before asking
            problem = await self.connection.call(
                lambda conn: snapshots.revert_problem(conn, conn.lookupByUUIDString(uuid), snap))
        except Exception as err:  # the guest or host may be gone
            problem = f"Could not read the guest: {err}"
        if problem:
            show_error(self, "Snapshot", problem)
            return
        if not await confirm(self, "Revert?", f"Revert to the snapshot {snap.name}?",
                             f"The guest's disks{' and memory' if snap.with_memory else ''} go back to "
                             f"{snap.created.astimezone():%Y-%m-%d %H:%M}, and the guest will be {then}. "
                             "What changed since is lost unless another snapshot keeps it.", "Revert"):
            return
        name = snap.name
        if not await self._on_guest(lambda conn, dom: snapshots.revert(conn, dom, name)):
            return
        self.status.setText(f"Reverted to {name}.")
        await self.refresh()

    async def delete(self) -> None:
        snap = self.selected()
        if snap is None:
            return
        below = snapshots.subtree(self.snapshots, snap.name)[1:]
        dialog = QDialog(self)
        dialog.setObjectName("delete_snapshot")
        dialog.setWindowTitle("Delete snapshot")
        layout = QVBoxLayout(dialog)
        layout.addWidget(QLabel(f"Delete the snapshot {snap.name}? The guest as it is now stays."))
        subtree = QCheckBox(f"Also delete the {len(below)} snapshot{'s' if len(below) != 1 else ''} below it")
        subtree.setObjectName("with_children")
        subtree.setVisible(bool(below))
        layout.addWidget(subtree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Delete")
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        layout.addWidget(buttons)
        try:
            if await dialog_result(dialog) != QDialog.DialogCode.Accepted:
                return
            with_children = subtree.isChecked()
        finally:
            dialog.deleteLater()
        name = snap.name
        if not await self._on_guest(lambda conn, dom: snapshots.delete(conn, dom, name, with_children=with_children)):
            return
        for gone in [name, *(below if with_children else [])]:
            thumbnail_path(self.uuid, gone).unlink(missing_ok=True)
        self.status.setText(f"Deleted {name}{' and the snapshots below it' if with_children and below else ''}.")
        await self.refresh()

    async def describe(self) -> None:
        snap = self.selected()
        if snap is None:
            return
        dialog = QInputDialog(self)
        dialog.setObjectName("snapshot_description_dialog")
        dialog.setWindowTitle("Description")
        dialog.setLabelText(f"Description of {snap.name}:")
        dialog.setTextValue(snap.description)
        try:  # not getText(): its nested event loop would run inside this task
            if await dialog_result(dialog) != QDialog.DialogCode.Accepted:
                return
            text = dialog.textValue()
        finally:
            dialog.deleteLater()
        name = snap.name
        if not await self._on_guest(lambda _conn, dom: snapshots.set_description(dom, name, text)):
            return
        await self.refresh()
        self.select(name)

    async def _on_guest(self, work: Callable[[libvirt.virConnect, libvirt.virDomain], object]) -> bool:
        """Run `work` on the guest in a worker; False (after saying why) when it fails."""
        uuid = self.uuid
        try:
            await self.connection.call(lambda conn: work(conn, conn.lookupByUUIDString(uuid)))
        except VmguiError as err:
            show_error(self, "Snapshot", str(err))
            return False
        return True

    def closeEvent(self, event: QCloseEvent) -> None:
        self.tasks.cancel_all()
        super().closeEvent(event)
