"""The Clone dialog: a name (or a batch with a name pattern), per disk copy / linked clone / share, progress."""

from __future__ import annotations

import asyncio
import datetime
import threading

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from vmgui.core.clone import (
    NEEDS_SHUTOFF,
    CloneDisk,
    DiskMode,
    clone_choices,
    clone_guest,
    names_from_pattern,
    protect_source,
    suggest_name,
)
from vmgui.core.clone_base import base_targets, make_base
from vmgui.core.connection import Connection
from vmgui.core.errors import VmguiError
from vmgui.core.guest_creator import CreatedGuest, CreationCancelled
from vmgui.core.lifecycle import Action
from vmgui.core.new_guest import name_problem
from vmgui.ui.async_dialogs import confirm, show_error
from vmgui.ui.tasks import TaskGroup

SHUTDOWN_WAIT = 120.0  # seconds the dialog waits for the source guest to shut down
RUNNING_NOTE = ("{name} is running, so its disks can only be copied or shared now: a linked clone builds on the "
                "source disk, which must not change from then on. Shut {name} down, or make its disks a base now: "
                "{name} keeps running on a new overlay file per disk, and the files it used until now become "
                "read-only bases that linked clones share.")
BASE_NOTE = ("{name} keeps running on new overlay files. Linked clones build on its former disks, now read-only "
             "bases: they start from the disks as they were at {time}, as after a power cut.")
BASE_DETAIL = ("{name} keeps running, without a pause. {disks} a new overlay file in its "
               "storage pool that takes {name}'s writes from now on; what it used until now is never written again "
               "and becomes the shared, read-only base that linked clones build on.\n\nThe clones start from the "
               "disks as they are at this moment, like after a power cut: what {name} has not yet written to its disks "
               "is not in them. {name}'s snapshot list does not change.")
RECORDED_NOTE = ("{name} runs on overlay files over read-only bases made {when}. Linked clones build on those bases, "
                 "with no overlay more for {name}: they start from its disks as they were then, as after a power cut.")
LINK_NOTE = ("A linked clone builds on the source disk, which must then never change: the source guest stays "
             "shut off, or it gets an overlay of its own (below) so that its old disk becomes a read-only base.")


class CloneDialog(QDialog):
    """Clone one guest of `connection`; emits `cloned` with the new guests once they exist."""

    cloned = Signal(list)  # list[CreatedGuest]

    def __init__(self, connection: Connection, uuid: str, source_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("clone_dialog")
        self.setWindowTitle(f"Clone {source_name}")
        self.resize(720, 420)
        self.connection = connection
        self.uuid = uuid
        self.source_name = source_name
        self.tasks = TaskGroup()
        self.disks: list[CloneDisk] = []
        self.taken: set[str] = set()
        self.running = False
        self.bases: dict[str, str] = {}  # target -> the read-only base made of the running source's disk
        self.source_busy = False  # the source is being shut down or its disks made a base
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setObjectName("clone_name")
        self.batch = QCheckBox("Several clones:")
        self.batch.setObjectName("batch")
        self.count = QSpinBox()
        self.count.setObjectName("count")
        self.count.setRange(2, 500)
        self.count.setValue(5)
        self.pattern = QLineEdit(f"{source_name}-{{n:02}}")
        self.pattern.setObjectName("pattern")
        self.pattern.setToolTip("{n} is the number; {n:03} pads it to three digits (desk-001, desk-002…)")
        form.addRow("Name:", self.name)
        form.addRow(self.batch, self.count)
        form.addRow("Named:", self.pattern)
        layout.addLayout(form)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("disks")
        self.table.setHorizontalHeaderLabels(["Disk", "File", "Clone as", "Note"])
        header = self.table.horizontalHeader()
        for column, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Interactive,
                                       QHeaderView.ResizeMode.ResizeToContents, QHeaderView.ResizeMode.Stretch)):
            header.setSectionResizeMode(column, mode)  # the note takes what is left, and wraps
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long paths keep their file name
        self.table.setWordWrap(True)
        self.table.verticalHeader().setVisible(False)
        layout.addWidget(self.table, 1)
        running_row = QHBoxLayout()
        self.running_note = QLabel(RUNNING_NOTE.format(name=source_name))
        self.running_note.setObjectName("running_note")
        self.running_note.setWordWrap(True)
        self.shut_down = QPushButton(f"Shut Down {source_name}…")
        self.shut_down.setObjectName("shut_down_source")
        self.shut_down.clicked.connect(lambda: self.tasks.spawn(self._shut_down_source()))
        self.make_base = QPushButton("Make Its Disks a Base Now…")
        self.make_base.setObjectName("make_base")
        self.make_base.setToolTip(f"{source_name} keeps running on new overlay files; its current disk files become "
                                  "the read-only bases linked clones build on")
        self.make_base.clicked.connect(lambda: self.tasks.spawn(self._make_base()))
        running_buttons = QVBoxLayout()
        running_buttons.addWidget(self.make_base)
        running_buttons.addWidget(self.shut_down)
        running_buttons.addStretch(1)
        running_row.addWidget(self.running_note, 1)
        running_row.addLayout(running_buttons)
        self.running_note.hide()  # until the disks say the source runs
        self.shut_down.hide()
        self.make_base.hide()
        layout.addLayout(running_row)
        self.link_note = QLabel(LINK_NOTE)
        self.link_note.setWordWrap(True)
        self.protect = QCheckBox("Give the source guest an overlay of its own (protect the base)")
        self.protect.setObjectName("protect_base")
        self.protect.setChecked(True)
        layout.addWidget(self.link_note)
        layout.addWidget(self.protect)
        self.problem = QLabel("Reading the guest's disks…")
        self.problem.setObjectName("clone_problem")
        self.problem.setWordWrap(True)
        layout.addWidget(self.problem)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setObjectName("clone_progress")
        self.progress.setFormat("%v of %m")
        self.progress.setMinimumWidth(200)
        self.progress_text = QLabel()
        self.progress_text.setObjectName("clone_progress_text")
        self.progress_text.setWordWrap(True)
        progress_row.addWidget(self.progress)
        progress_row.addWidget(self.progress_text, 1)
        self.progress.hide()  # while cloning
        self.progress_text.hide()
        layout.addLayout(progress_row)
        self.cancel = threading.Event()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Clone")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        for signal in (self.name.textChanged, self.pattern.textChanged):
            signal.connect(self.check)
        self.count.valueChanged.connect(self.check)
        self.batch.toggled.connect(self.check)
        self.tasks.spawn(self._load())
        self.check()

    async def _load(self, prefer: DiskMode | None = None) -> None:
        """Read the disks and what each allows; `prefer` that mode where a disk allows it."""
        uuid, bases = self.uuid, tuple(self.bases.values())
        try:
            self.disks, self.taken = await self.connection.call(lambda conn: clone_choices(conn, uuid, bases))
        except Exception as err:  # a vanished guest or host is said, not raised
            self.problem.setText(f"Could not read the guest: {err}")
            return
        if not self.name.text():
            self.name.setText(suggest_name(self.source_name, self.taken))
        running = any(d.why == NEEDS_SHUTOFF for d in self.disks)
        on_bases = [d for d in self.disks if d.base is not None]
        self.running_note.setVisible(running or bool(on_bases))
        if on_bases and not self.bases:  # bases made earlier, recorded in the guest's metadata
            times = [d.base_made for d in on_bases if d.base_made is not None]
            self.running_note.setText(RECORDED_NOTE.format(name=self.source_name,
                                                           when=when(min(times)) if times else "earlier"))
        self.shut_down.setVisible(running)
        self.make_base.setVisible(running)
        self.table.setRowCount(len(self.disks))
        for row, disk in enumerate(self.disks):
            self.table.setItem(row, 0, QTableWidgetItem(f"{disk.target} ({disk.device})"))
            path = QTableWidgetItem(disk.path or "(empty)")
            path.setToolTip(disk.path or "")
            self.table.setItem(row, 1, path)
            combo = QComboBox()
            combo.setObjectName(f"mode_{disk.target}")
            combo.setMinimumContentsLength(len(DiskMode.LINK.label))  # one width, whichever modes a disk has
            for mode in disk.modes:
                combo.addItem(mode.label, mode)
            chosen = prefer or (DiskMode.LINK if disk.base else None)  # a base is there for linked clones
            if chosen in disk.modes:
                combo.setCurrentIndex(disk.modes.index(chosen))
            combo.setEnabled(len(disk.modes) > 1)
            combo.currentIndexChanged.connect(self.check)
            self.table.setCellWidget(row, 2, combo)
            self.table.setItem(row, 3, QTableWidgetItem(base_note(disk) if disk.base else disk.why))
        self.table.resizeColumnToContents(1)
        self.table.setColumnWidth(1, min(self.table.columnWidth(1), 260))
        self.table.resizeRowsToContents()
        self.check()

    async def _shut_down_source(self) -> None:
        """Ask, shut the source guest down, wait until it is off, then offer linked clones."""
        name = self.source_name
        if not await confirm(self, "Shut down?", f"Shut down {name}?",
                             "Its operating system is asked to shut down; unsaved work in it may be lost. Once it "
                             "is off, its disks can be linked.", "Shut Down"):
            return
        self._set_source_busy(True)
        try:
            await self.connection.perform(self.uuid, Action.SHUTDOWN)
        except VmguiError as err:
            self._set_source_busy(False)
            show_error(self, "Clone", str(err))
            return
        self.running_note.setText(f"Waiting for {name} to shut down…")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SHUTDOWN_WAIT
        while self._source_running() and loop.time() < deadline:
            await asyncio.sleep(0.25)
        self._set_source_busy(False)
        if self._source_running():
            self.running_note.setText(f"{name} is still running after {SHUTDOWN_WAIT:.0f} s: shut it down from "
                                      "inside, or force it off, and try again.")
            return
        self.running_note.setText(RUNNING_NOTE.format(name=name))
        await self._load(prefer=DiskMode.LINK)

    async def _make_base(self) -> None:
        """Ask, move the running source onto new overlays, then offer linked clones on its former disks."""
        name, uuid = self.source_name, self.uuid
        try:
            targets = await self.connection.call(lambda conn: base_targets(conn, uuid))
        except Exception as err:  # a vanished guest or host is said, not raised
            show_error(self, "Clone", f"Could not read the guest: {err}")
            return
        if not targets:
            await self._load(prefer=DiskMode.LINK)  # shut off meanwhile: nothing to do
            return
        if not await confirm(self, "Make a base?", f"Make {name}'s disks a base now?",
                             BASE_DETAIL.format(name=name, disks=f"Its disk {targets[0]} gets" if len(targets) == 1
                                                else f"Each of its disks ({', '.join(targets)}) gets"),
                             "Make a Base"):
            return
        self._set_source_busy(True)
        try:
            bases = await self.connection.call(lambda conn: make_base(conn, uuid, targets))
        except VmguiError as err:
            show_error(self, "Clone", str(err))
            return
        finally:
            self._set_source_busy(False)
        self.bases.update(bases)
        self.running_note.setText(BASE_NOTE.format(name=name, time=datetime.datetime.now().strftime("%H:%M:%S")))
        await self._load(prefer=DiskMode.LINK)

    def _set_source_busy(self, busy: bool) -> None:
        self.source_busy = busy
        self.check()

    def _source_running(self) -> bool:
        guest = self.connection.guests.get(self.uuid)
        return guest is not None and guest.state.is_active

    def modes(self) -> dict[str, DiskMode]:
        chosen = {}
        for row, disk in enumerate(self.disks):
            combo = self.table.cellWidget(row, 2)
            if isinstance(combo, QComboBox) and isinstance(combo.currentData(), DiskMode):
                chosen[disk.target] = combo.currentData()
        return chosen

    def _own_linked(self) -> list[str]:
        """The disks to be linked onto the source's disk itself (not a base made of a running source's disk)."""
        on_base = {d.target for d in self.disks if d.base is not None}
        return [target for target, mode in self.modes().items() if mode is DiskMode.LINK and target not in on_base]

    def names(self) -> list[str]:
        """The clones' names; raises VmguiError when they cannot be."""
        if self.batch.isChecked():
            return names_from_pattern(self.pattern.text(), self.count.value(), self.taken)
        name = self.name.text().strip()
        problem = name_problem(name, self.taken)
        if problem:
            raise VmguiError(problem)
        return [name]

    def check(self) -> None:
        editable = not self.running
        self.name.setEnabled(editable and not self.batch.isChecked())
        self.count.setEnabled(editable and self.batch.isChecked())
        self.pattern.setEnabled(editable and self.batch.isChecked())
        for widget in (self.batch, self.table, self.protect):
            widget.setEnabled(editable)
        for button in (self.make_base, self.shut_down):
            button.setEnabled(editable and not self.source_busy)
        own_linked = bool(self._own_linked())  # linked on a base made of the running source: protected already
        self.link_note.setVisible(own_linked)
        self.protect.setVisible(own_linked)
        ok = bool(self.disks) and not self.running and not self.source_busy
        if self.disks:  # else the text says the disks are being read, or why they could not be
            try:
                names = self.names()
                self.problem.setText(f"{len(names)} clones: {', '.join(names[:3])}{'…' if len(names) > 3 else ''}"
                                     if self.batch.isChecked() else "")
            except VmguiError as err:
                self.problem.setText(str(err))
                ok = False
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def start(self) -> None:
        if not self.running:
            self.tasks.spawn(self._clone())

    async def _clone(self) -> None:
        try:
            names = self.names()
        except VmguiError as err:
            show_error(self, "Clone", str(err))
            return
        modes = self.modes()
        own_linked = self._own_linked()
        protect = self.protect.isChecked() and bool(own_linked)
        bases = tuple(self.bases.values())
        # Progress inside this (modeless) dialog: a modal progress dialog would block the main window too.
        self.cancel = threading.Event()
        loop = asyncio.get_running_loop()
        self.running = True
        self.progress.setRange(0, len(names))
        self.progress.setValue(0)
        self.progress.show()
        self.progress_text.setText(f"Cloning {self.source_name}…")
        self.progress_text.show()
        self.check()
        made: list[CreatedGuest] = []
        try:
            for i, name in enumerate(names):
                count = f" ({i + 1} of {len(names)})" if len(names) > 1 else ""

                def step(text: str, name: str = name, count: str = count) -> None:  # in the worker thread
                    loop.call_soon_threadsafe(self._step, f"{name}{count}: {text}")

                last = i == len(names) - 1  # the base is protected once, after the last clone linked to it
                made.append(await self.connection.call(
                    lambda conn, name=name, last=last, step=step, cancel=self.cancel: clone_guest(  # type: ignore[misc]
                        conn, self.uuid, name, modes, protect_base=protect and last, progress=step, cancel=cancel,
                        bases=bases)))
                self.progress.setValue(i + 1)
        except (CreationCancelled, VmguiError) as err:
            done = f" {len(made)} of {len(names)} clones were made before." if made else ""
            if made and protect:  # the clones made must not see their base change when the source starts
                try:
                    await self.connection.call(lambda conn: protect_source(conn, self.uuid, own_linked))
                    done += " The source guest's disks were protected for them."
                except VmguiError as protect_err:
                    done += f" Do not start the source guest: its disks could not be protected ({protect_err})."
            show_error(self, "Clone", f"{err}{done}")
            return
        finally:
            self.running = False
            self.progress.hide()
            self.progress_text.hide()
            self.check()
        self.cloned.emit(made)
        self.accept()

    def _step(self, text: str) -> None:
        if self.running and not self.cancel.is_set():
            self.progress_text.setText(text)

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Rejected and self.running:  # Cancel, Escape or closing: stop cloning
            self.cancel.set()
            self.progress_text.setText("Cancelling: removing what the clone being made has made so far…")
            return
        self.tasks.cancel_all()
        super().done(result)


def base_note(disk: CloneDisk) -> str:
    """What a disk's linked clones build on: "linked clones build on its base web.qcow2, made today at 14:03"."""
    assert disk.base is not None
    made = f", made {when(disk.base_made)}" if disk.base_made is not None else ""
    return f"linked clones build on its base {disk.base.name}{made}"


def when(moment: datetime.datetime) -> str:
    """"today at 14:03" or "on 2025-05-01 at 14:03", in local time."""
    local = moment.astimezone()
    day = "today" if local.date() == datetime.date.today() else f"on {local:%Y-%m-%d}"
    return f"{day} at {local:%H:%M}"
