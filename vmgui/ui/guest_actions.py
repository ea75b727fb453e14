"""The lifecycle actions on the selected guests: enabled only where they apply, confirmed when destructive."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from vmgui.core.connection import Connection
from vmgui.core.guest import GuestInfo
from vmgui.core.lifecycle import ACTIONS, Action, applies
from vmgui.ui.async_dialogs import confirm, show_error
from vmgui.ui.state_icons import state_icon
from vmgui.ui.tasks import TaskGroup

Selection = list[tuple[Connection, GuestInfo]]

_ICONS = {
    Action.START: "running", Action.SHUTDOWN: "shutoff", Action.REBOOT: "shutdown",
    Action.FORCE_OFF: "crashed", Action.PAUSE: "paused", Action.RESUME: "running",
    Action.SAVE: "pmsuspended",
}
_SHORTCUTS = {Action.START: "Ctrl+Shift+S", Action.PAUSE: "Ctrl+Shift+P"}


def _names(targets: Selection, limit: int = 5) -> str:
    names = sorted(f"'{g.name}'" for _, g in targets)[:limit]
    more = len(targets) - limit
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


class GuestActions:
    """One QAction per lifecycle action, acting on whatever `selection()` returns when triggered."""

    def __init__(self, parent: QWidget, selection: Callable[[], Selection], tasks: TaskGroup) -> None:
        self._parent = parent
        self._selection = selection
        self._tasks = tasks
        self.actions: dict[Action, QAction] = {}
        for action, info in ACTIONS.items():
            qaction = QAction(state_icon(_ICONS[action]), info.label, parent)
            qaction.setObjectName(f"action_{action.value}")
            if action in _SHORTCUTS:
                qaction.setShortcut(QKeySequence(_SHORTCUTS[action]))
            qaction.triggered.connect(lambda _checked=False, a=action: self.trigger(a))
            self.actions[action] = qaction
        self.update()

    def update(self) -> None:
        """Enable each action when it applies to at least one selected guest."""
        selected = self._selection()
        for action, qaction in self.actions.items():
            targets = [g for c, g in selected if c.is_connected and applies(action, g)]
            qaction.setEnabled(bool(targets))
            label = ACTIONS[action].label
            qaction.setText(f"{label} ({len(targets)})" if len(targets) > 1 else label)

    def trigger(self, action: Action) -> asyncio.Task[None]:
        return self._tasks.spawn(self.run(action, self._selection()))

    async def run(self, action: Action, selected: Selection) -> None:
        targets = [(c, g) for c, g in selected if applies(action, g)]
        if not targets:
            return
        info = ACTIONS[action]
        if info.confirm:
            question = f"{info.label} {_names(targets)}?"
            if not await confirm(self._parent, f"{info.label}?", question, info.confirm, info.label):
                return
        results = await asyncio.gather(*(c.perform(g.uuid, action) for c, g in targets),
                                       return_exceptions=True)
        errors = [str(r) for r in results if isinstance(r, BaseException)]
        if errors:
            show_error(self._parent, f"{info.label} failed", "\n\n".join(errors))
