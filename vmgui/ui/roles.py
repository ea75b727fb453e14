"""Custom item data roles shared by vmgui's models, views and delegates."""

from __future__ import annotations

from PySide6.QtCore import Qt

# Sequence[float] of recent samples scaled to 0.0..1.0, newest last; drawn by SparklineDelegate.
HISTORY_ROLE = Qt.ItemDataRole.UserRole + 1
# A plain value (number or str) to sort the column by, instead of the display text.
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
# The core guest object a row stands for.
GUEST_ROLE = Qt.ItemDataRole.UserRole + 3
# The core connection object a row (or the guest row's parent) stands for.
CONNECTION_ROLE = Qt.ItemDataRole.UserRole + 4
