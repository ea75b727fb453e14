"""A small list of callbacks: how core objects tell their owners about changes without Qt signals."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, ParamSpec

log = logging.getLogger(__name__)
P = ParamSpec("P")


class Callbacks(Generic[P]):
    """Listeners called in order on the loop thread; one failing listener does not stop the others."""

    def __init__(self) -> None:
        self._listeners: list[Callable[P, object]] = []

    def connect(self, listener: Callable[P, object]) -> None:
        self._listeners.append(listener)

    def disconnect(self, listener: Callable[P, object]) -> None:
        self._listeners.remove(listener)

    def emit(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for listener in list(self._listeners):
            try:
                listener(*args, **kwargs)
            except Exception:
                log.exception("listener %r failed", listener)
