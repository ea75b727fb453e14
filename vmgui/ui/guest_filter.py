"""Filtering and sorting of the guest tree: the search box's words against name, title, state and tags."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from vmgui.core.guest import GuestInfo
from vmgui.ui.roles import GUEST_ROLE, SORT_ROLE

AnyIndex = QModelIndex | QPersistentModelIndex


def matches(guest: GuestInfo, query: str) -> bool:
    """Every word must match: 'tag:x' a tag, 'state:x' the state, else name, title, state or a tag."""
    for word in query.casefold().split():
        key, _, value = word.partition(":")
        tags = [t.casefold() for t in guest.tags]
        state = guest.state_text.casefold()
        if value and key == "tag":
            ok = any(value in t for t in tags)
        elif value and key == "state":
            ok = value in state or value == guest.state.value
        else:
            ok = (word in guest.name.casefold() or word in guest.title.casefold() or word in state
                  or any(word in t for t in tags))
        if not ok:
            return False
    return True


class GuestFilterProxy(QSortFilterProxyModel):
    """Connections always show; guests show when they match the query. Sorting is per connection."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._query = ""
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    @property
    def query(self) -> str:
        return self._query

    def set_query(self, text: str) -> None:
        if text == self._query:
            return
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter() is deprecated there
            self.beginFilterChange()
            self._query = text
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._query = text
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if not source_parent.isValid() or not self._query.strip():
            return True
        guest = self.sourceModel().index(source_row, 0, source_parent).data(GUEST_ROLE)
        return guest is not None and matches(guest, self._query)

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        if not left.parent().isValid():
            return left.row() < right.row()  # connections keep the order they were added in
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        if a is None or b is None or type(a) is not type(b):
            return left.row() < right.row()
        if a == b:  # ties: by name, so the order is stable across stats ticks
            return str(left.sibling(left.row(), 0).data(SORT_ROLE)) < str(right.sibling(right.row(), 0).data(SORT_ROLE))
        return bool(a < b)
