"""Wizard page 2: which operating system the guest runs, searched in libosinfo or detected from the media."""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from vmgui.core.errors import VmguiError
from vmgui.core.install_tree import locate_tree
from vmgui.core.new_guest import InstallMethod
from vmgui.core.osinfo import GENERIC, OsInfo

if TYPE_CHECKING:
    from vmgui.ui.new_guest.wizard import NewGuestWizard


class OsPage(QWizardPage):
    def __init__(self, wizard: NewGuestWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Which operating system will the guest run?")
        self.setSubTitle("vmgui picks devices, memory and disk size that suit it (libosinfo).")
        self.setObjectName("page_os")
        layout = QVBoxLayout(self)
        self.detect = QCheckBox("Detect it from the install media")
        self.detect.setObjectName("detect")
        self.detect.setChecked(True)
        self.detect.toggled.connect(lambda on: self._detect() if on else None)
        layout.addWidget(self.detect)
        self.detected = QLabel()
        self.detected.setObjectName("detected")
        self.detected.setWordWrap(True)
        layout.addWidget(self.detected)
        self.search = QLineEdit()
        self.search.setObjectName("os_search")
        self.search.setPlaceholderText("Search, e.g. debian 11, fedora, windows 11")
        self.search.textChanged.connect(self._refill)
        layout.addWidget(self.search)
        self.list = QListWidget()
        self.list.setObjectName("os_list")
        self.list.currentItemChanged.connect(lambda *_: self.completeChanged.emit())
        layout.addWidget(self.list, 1)
        self.include_eol = QCheckBox("Include OSes past their end of life")
        self.include_eol.toggled.connect(lambda _on: self._refill(self.search.text()))
        layout.addWidget(self.include_eol)
        self._detected_for: str | None = None

    def initializePage(self) -> None:
        media = self._source()
        method = self._wizard.method_page.method()
        local = bool(self._wizard.choices and self._wizard.choices.local)
        can_detect = self._wizard.catalog is not None and (
            (method is InstallMethod.MEDIA and local and not media.startswith("/dev/"))
            or method is InstallMethod.NETWORK)  # vmgui reads the tree itself, for any host
        self.detect.setText("Detect it from the install tree" if method is InstallMethod.NETWORK
                            else "Detect it from the install media")
        self.detect.setVisible(can_detect)
        if self._wizard.catalog is None:
            self.detected.setText(self._wizard.catalog_problem or "Loading the OS list…")
        elif not (can_detect and media == self._detected_for):  # the same media: its detection stands
            self.detected.setText("")
        current = self.selected() if self.list.currentItem() is not None else None
        self._refill(self.search.text())
        if current is not None:
            self.select(current)  # back on this page: what was chosen or detected stays chosen
        if can_detect and self.detect.isChecked():
            self._detect()

    def selected(self) -> OsInfo:
        item = self.list.currentItem()
        info = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        return info if isinstance(info, OsInfo) else GENERIC

    def select(self, info: OsInfo) -> None:
        if not any(self.list.item(i).data(Qt.ItemDataRole.UserRole) == info for i in range(self.list.count())):
            self.list.insertItem(0, self._item(info))
        for i in range(self.list.count()):
            if self.list.item(i).data(Qt.ItemDataRole.UserRole) == info:
                self.list.setCurrentRow(i)
                self.list.scrollToItem(self.list.item(i), QAbstractItemView.ScrollHint.PositionAtCenter)
                return

    def catalog_ready(self) -> None:
        if self.isVisible():
            self.initializePage()

    def _refill(self, text: str) -> None:
        current = self.selected() if self.list.currentItem() is not None else None
        self.list.clear()
        catalog = self._wizard.catalog
        found = catalog.search(text, include_eol=self.include_eol.isChecked()) if catalog is not None else []
        generic = GENERIC.name.casefold()
        if not text.strip() or any(word in generic for word in text.casefold().split()):
            found.append(GENERIC)
        for info in found:
            self.list.addItem(self._item(info))
        if current is not None and current in found:
            self.select(current)
        elif self.list.count():
            self.list.setCurrentRow(0)
        self.completeChanged.emit()

    @staticmethod
    def _item(info: OsInfo) -> QListWidgetItem:
        detail = f"  ({info.short_id}{', ' + info.release_date[:4] if info.release_date else ''})"
        item = QListWidgetItem(info.name + (detail if info.short_id != "generic" else ""))
        item.setData(Qt.ItemDataRole.UserRole, info)
        return item

    def _source(self) -> str:
        """What detection reads: the ISO path, or the install tree's URL."""
        page = self._wizard.method_page
        return page.url.text().strip() if page.method() is InstallMethod.NETWORK else page.media.text()

    def _detect(self) -> None:
        catalog = self._wizard.catalog
        source = self._source()
        if catalog is None or not source or source == self._detected_for:
            return
        self._detected_for = source
        network = self._wizard.method_page.method() is InstallMethod.NETWORK
        self.detected.setText(f"Looking at {source if network else os.path.basename(source)}…")

        async def detect() -> None:
            info: OsInfo | None
            try:
                if network:
                    tree = await asyncio.to_thread(locate_tree, catalog, source)
                    self._wizard.tree = tree
                    info = tree.os
                else:
                    info = await asyncio.to_thread(catalog.identify_media, source)
            except (ValueError, VmguiError) as err:
                self.detected.setText(f"Could not read the {'tree' if network else 'media'}: {err}")
                return
            if info is None:
                found = "The installer was found, but the tree does not say its OS" if network else \
                    "The media is not one libosinfo knows"
                self.detected.setText(f"{found}: choose the OS below.")
                return
            self.detected.setText(f"Detected: {info.name}.")
            self.select(info)
        self._wizard.tasks.spawn(detect())

    def isComplete(self) -> bool:
        return self.list.currentItem() is not None
