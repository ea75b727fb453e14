"""The desktop pool dialog: create or edit a pool's definition, then provision, recompose and pre-start its desktops."""

from __future__ import annotations

from dataclasses import dataclass, replace

import libvirt
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from vmgui.core.clone import names_from_pattern
from vmgui.core.connection import Connection
from vmgui.core.domain_xml import DomainXml
from vmgui.core.errors import VmguiError, describe
from vmgui.core.vdi import pools
from vmgui.core.vdi.desktops import desktops
from vmgui.core.vdi.golden import GoldenImage, golden_images
from vmgui.core.vdi.pool_specs import MODE_LABELS, MODES, PoolSpec, read_pools, save_pool, spec_problem
from vmgui.ui.async_dialogs import show_error
from vmgui.ui.busy_status import busy_status_row
from vmgui.ui.problem_label import WARNING_STYLE, problem_label
from vmgui.ui.tasks import TaskGroup

PUBLISH_FIRST = "Publish a golden image first (Desktops ▸ Publish as Golden Image…)."
PREVIEW_COUNT = 3
MAX_DESKTOPS = 1000


@dataclass(frozen=True)
class PoolChoices:
    """What the dialog offers and checks against, read from the host in one worker call."""

    images: tuple[GoldenImage, ...]            # those with at least one version
    resources: dict[str, tuple[int, int]]      # golden uuid -> (memory MiB, vCPUs) of its source guest
    pools: tuple[PoolSpec, ...]
    taken: frozenset[str]                      # guest names, without the edited pool's own desktops


def read_choices(conn: libvirt.virConnect, editing: str | None) -> PoolChoices:
    """Golden images, their guests' memory and vCPUs, existing pools and guest names (blocking)."""
    images = tuple(i for i in golden_images(conn) if i.versions)
    resources = {}
    for image in images:
        xml = DomainXml(conn.lookupByUUIDString(image.source_uuid).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        resources[image.source_uuid] = (xml.memory_mib or 0, xml.vcpus or 1)
    own = {d.name for d in desktops(conn, editing)} if editing else set()
    taken = frozenset(d.name() for d in conn.listAllDomains(0)) - own
    return PoolChoices(images, resources, tuple(read_pools(conn)), taken)


def _message(err: Exception, doing: str) -> str:
    """Core's sentence as it is; a libvirt error as 'Could not <doing>: ...'."""
    return describe(err, doing) if isinstance(err, libvirt.libvirtError) else str(err)


def _default_pattern(pool_name: str) -> str:
    return f"{pool_name}-{{n:02}}" if pool_name else ""


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


class PoolDialog(QDialog):
    """Create a desktop pool on `conn` (spec None) or change one; emits `saved` with the saved PoolSpec."""

    saved = Signal(object)  # PoolSpec

    def __init__(self, conn: Connection, spec: PoolSpec | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pool_dialog")
        self.setWindowTitle(f"Desktop Pool {spec.name}" if spec else "New Desktop Pool")
        self.resize(620, 0)
        self.connection = conn
        self.original = spec
        self.tasks = TaskGroup()
        self.choices: PoolChoices | None = None
        self.load_error = ""
        self.running = False
        self.outcome = ""          # what the last successful OK did, also said in the status
        self._named = spec.name if spec else ""   # the name the pattern follows while it is the default
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit(spec.name if spec else "")
        self.name.setObjectName("pool_name")
        if spec is not None:
            self._show_read_only(self.name)
        self.name.setPlaceholderText("office")
        form.addRow("Pool name:", self.name)
        self.image = QComboBox()
        self.image.setObjectName("golden_image")
        self.image.setEnabled(spec is None)  # a pool's definition lives on its golden image
        form.addRow("Golden image:", self.image)
        self.version = QComboBox()
        self.version.setObjectName("golden_version")
        form.addRow("Version:", self.version)
        self.count = QSpinBox()
        self.count.setObjectName("size")
        self.count.setRange(0, MAX_DESKTOPS)
        self.count.setValue(spec.size if spec else 3)
        self.count.setSuffix(" desktops")
        form.addRow("Size:", self.count)
        self.pattern = QLineEdit(spec.pattern if spec else "")
        self.pattern.setObjectName("pattern")
        self.pattern.setToolTip("{n} is the number; {n:02} pads it to two digits (office-01, office-02…)")
        form.addRow("Desktop names:", self.pattern)
        self.preview = QLabel()
        self.preview.setObjectName("names_preview")
        self.preview.setWordWrap(True)
        form.addRow("", self.preview)
        modes = QVBoxLayout()
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[str, QRadioButton] = {}
        for mode in MODES:
            button = QRadioButton(MODE_LABELS[mode])
            button.setObjectName(f"mode_{mode}")
            self.mode_group.addButton(button)
            self.mode_buttons[mode] = button
            modes.addWidget(button)
        self.mode_buttons[spec.mode if spec and spec.mode in MODES else MODES[0]].setChecked(True)
        form.addRow("Mode:", modes)
        self.memory = QSpinBox()
        self.memory.setObjectName("memory")
        self.memory.setRange(0, 4 * 1024 * 1024)
        self.memory.setSingleStep(256)
        self.memory.setSuffix(" MiB")
        self.memory.setValue((spec.memory_mib or 0) if spec else 0)
        form.addRow("Memory:", self.memory)
        self.vcpus = QSpinBox()
        self.vcpus.setObjectName("vcpus")
        self.vcpus.setRange(0, 512)
        self.vcpus.setValue((spec.vcpus or 0) if spec else 0)
        form.addRow("vCPUs:", self.vcpus)
        self.prestarted = QSpinBox()
        self.prestarted.setObjectName("prestarted")
        self.prestarted.setRange(0, MAX_DESKTOPS)
        self.prestarted.setValue(spec.prestarted if spec else 0)
        self.prestarted.setToolTip("Unassigned desktops kept running, so that a user gets one at once")
        prestarted_row = QHBoxLayout()
        prestarted_row.addWidget(self.prestarted)
        prestarted_row.addWidget(QLabel("unassigned desktops kept running, ready for a user"), 1)
        form.addRow("Pre-started:", prestarted_row)
        layout.addLayout(form)
        self.hint = problem_label("pool_hint")
        self.hint.setStyleSheet(WARNING_STYLE)
        layout.addWidget(self.hint)
        self.problem = problem_label("pool_problem")
        layout.addWidget(self.problem)
        status_row, self.progress, self.status = busy_status_row("Reading the golden images…")
        layout.addLayout(status_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save" if spec else "Create")
        self.buttons.accepted.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.name.textChanged.connect(self._name_changed)
        self.pattern.textChanged.connect(self.check)
        self.image.currentIndexChanged.connect(self._image_changed)
        self.version.currentIndexChanged.connect(self.check)
        for spin in (self.count, self.memory, self.vcpus, self.prestarted):
            spin.valueChanged.connect(self.check)
        self.mode_group.buttonToggled.connect(self.check)
        self.tasks.spawn(self._load())
        self.check()

    # ---- reading ----------------------------------------------------------------------------------

    async def _load(self) -> None:
        editing = self.original.name if self.original else None
        try:
            self.choices = await self.connection.call(lambda conn: read_choices(conn, editing))
        except (VmguiError, libvirt.libvirtError) as err:  # a vanished host is said, not raised
            self.load_error = _message(err, "read the golden images")
            self.status.setText("")
            self.check()
            return
        self.status.setText("")
        self.image.blockSignals(True)
        for image in self.choices.images:
            self.image.addItem(image.name, image.source_uuid)
        wanted = self.original.golden_uuid if self.original else None
        index = self.image.findData(wanted) if wanted else -1
        self.image.setCurrentIndex(index if wanted else 0)  # an edited pool's image may have no version left: -1
        self.image.blockSignals(False)
        self._image_changed()

    def _image(self) -> GoldenImage | None:
        uuid = self.image.currentData()
        if self.choices is None or not isinstance(uuid, str):
            return None
        return next((i for i in self.choices.images if i.source_uuid == uuid), None)

    def _image_changed(self) -> None:
        image = self._image()
        self.version.blockSignals(True)
        self.version.clear()
        for v in reversed(image.versions if image else ()):  # the newest first, and chosen by default
            date = v.created.partition("T")[0]
            now = " (now)" if self.original is not None and self.original.version == v.number else ""
            self.version.addItem(f"{v.label}{now}, {date}{' — ' + v.note if v.note else ''}", v.number)
        if self.original is not None and self.original.version is not None:
            index = self.version.findData(self.original.version)
            self.version.setCurrentIndex(index if index >= 0 else 0)
        self.version.blockSignals(False)
        memory, vcpus = self.choices.resources.get(image.source_uuid, (0, 0)) if self.choices and image else (0, 0)
        self.memory.setSpecialValueText(f"As the golden image ({memory} MiB)" if memory else "As the golden image")
        self.vcpus.setSpecialValueText(f"As the golden image ({vcpus})" if vcpus else "As the golden image")
        self.check()

    # ---- checking as the user types -----------------------------------------------------------------

    def _name_changed(self, text: str) -> None:
        if self.original is None and self.pattern.text() in ("", _default_pattern(self._named)):
            self.pattern.setText(_default_pattern(text.strip()))  # follows the name until edited
        self._named = text.strip()
        self.check()

    def spec(self) -> PoolSpec:
        """The pool as the fields say."""
        mode = next((m for m, b in self.mode_buttons.items() if b.isChecked()), MODES[0])
        uuid = self.image.currentData()
        version = self.version.currentData()
        return PoolSpec(name=self.name.text().strip(), golden_uuid=uuid if isinstance(uuid, str) else "",
                        size=self.count.value(), pattern=self.pattern.text().strip(), mode=mode,
                        memory_mib=self.memory.value() or None, vcpus=self.vcpus.value() or None,
                        prestarted=self.prestarted.value(), version=version if isinstance(version, int) else None)

    def _recompose_to(self, spec: PoolSpec) -> int | None:
        """The version an edited pool moves to, or None when it stays."""
        if self.original is None or spec.version is None:
            return None
        return spec.version if spec.version != self.original.version else None

    def problem_text(self) -> str:
        """Why OK cannot be pressed ("" when it can)."""
        if self.choices is None:
            return self.load_error
        if not self.choices.images:
            return PUBLISH_FIRST
        spec = self.spec()
        if self._image() is None:
            return (f"The golden image of '{spec.name}' has no published version any more: publish one first."
                    if self.original else "Choose a golden image.")
        if not spec.name:
            return "The pool needs a name."
        if self.original is None and any(p.name == spec.name for p in self.choices.pools):
            return f"There is already a pool named '{spec.name}'."
        return spec_problem(spec)

    def check(self) -> None:
        spec = self.spec()
        problem = self.problem_text()
        self.problem.setText(problem)
        preview = ""
        if self.choices is not None and spec.size:
            try:
                names = names_from_pattern(spec.pattern, min(spec.size, PREVIEW_COUNT), set(self.choices.taken))
                preview = ", ".join(names) + ("…" if spec.size > PREVIEW_COUNT else "")
            except VmguiError:
                pass  # the problem label says why
        self.preview.setText(preview)
        target = self._recompose_to(spec)
        self.hint.setText(f"The pool moves to v{target}: unassigned shut-off desktops are recomposed now, the others "
                          "at their next reset." if target is not None else "")
        fields: list[QWidget] = [self.name, self.pattern, self.image, self.version, self.count, self.memory,
                                 self.vcpus, self.prestarted, *self.mode_buttons.values()]
        for widget in fields:
            widget.setDisabled(self.running)
        self.image.setEnabled(not self.running and self.original is None)
        self.ok_button.setEnabled(self.choices is not None and not problem and not self.running)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setEnabled(not self.running)

    # ---- OK: save, recompose, provision, pre-start --------------------------------------------------

    def start(self) -> None:
        if not self.running and not self.problem_text():
            self.tasks.spawn(self._save())

    def _step(self, text: str) -> None:
        self.status.setText(text)

    async def _save(self) -> None:
        spec = self.spec()
        target = self._recompose_to(spec)
        name = spec.name
        self.running = True
        self.progress.setVisible(True)
        self.check()
        saved: PoolSpec | None = None
        said: list[str] = []
        try:
            self._step(f"Saving the pool {name}…")
            saved = await self.connection.call(lambda conn: save_pool(conn, spec))
            self._now_editing(saved)
            if target is not None:
                self._step(f"Moving the desktops of {name} to v{target}…")
                now, later = await self.connection.call(lambda conn: pools.recompose(conn, name, target))
                said.append(f"{_count(len(now), 'desktop')} moved to v{target} now, {len(later)} at their next "
                            f"reset{' (' + ', '.join(later) + ')' if later else ''}.")
            self._step(f"Provisioning {_count(saved.size, 'desktop')} for {name}…")
            made = await self.connection.call(lambda conn: pools.provision(conn, name))
            if saved.prestarted:
                self._step(f"Starting {_count(saved.prestarted, 'desktop')} of {name}…")
            started = await self.connection.call(lambda conn: pools.prestart(conn, name))
        except (VmguiError, libvirt.libvirtError) as err:
            text = _message(err, f"set up the pool {name}")
            if saved is not None:
                text += f"\n\nThe pool {name} is saved{': ' + said[0] if said else '.'} Save tries the rest again."
            self.status.setText("")
            show_error(self, "Desktop Pool", text)
            return
        finally:
            self.running = False
            self.progress.setVisible(False)
            self.check()
        said.append(f"{name} has {_count(len(made), 'desktop')}" + (f"; {len(started)} started." if started else "."))
        self.outcome = " ".join(said)
        self.status.setText(self.outcome)
        if target is not None:
            self._inform(self.outcome)
        self.saved.emit(saved)
        self.accept()

    def _now_editing(self, saved: PoolSpec) -> None:
        """Once the definition is saved the pool exists: a retry after a failure edits it."""
        if self.original is None and self.choices is not None:
            self.choices = replace(self.choices, pools=(*self.choices.pools, saved))
        self.original = saved
        self._show_read_only(self.name)
        self.ok_button.setText("Save")
        self.setWindowTitle(f"Desktop Pool {saved.name}")

    @staticmethod
    def _show_read_only(field: QLineEdit) -> None:
        """Read-only and looking it: no frame, on the window's background."""
        field.setReadOnly(True)
        field.setFrame(False)
        palette = field.palette()
        palette.setColor(QPalette.ColorRole.Base, palette.color(QPalette.ColorRole.Window))
        field.setPalette(palette)
        field.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def _inform(self, text: str) -> None:
        """Say what a recompose did, without blocking; the box outlives this dialog when it has a parent."""
        box = QMessageBox(QMessageBox.Icon.Information, "Desktop Pool", text, QMessageBox.StandardButton.Close,
                          self.parentWidget() or self)
        box.setObjectName("recomposed")
        box.finished.connect(box.deleteLater)
        box.open()

    def done(self, result: int) -> None:
        if result == QDialog.DialogCode.Rejected and self.running:
            return  # core's steps cannot be stopped half-way; the status says what is going on
        self.tasks.cancel_all()
        super().done(result)
