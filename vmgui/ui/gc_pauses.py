"""Keeps the garbage collector's full passes short: what start-up made is moved out of their way."""

from __future__ import annotations

import gc


def freeze_startup_objects() -> None:
    """Once the window is built, before the event loop runs: exempt every object so far from collection.

    A full collection walks every tracked object while it holds the GIL. After start-up that is some
    43,000 objects (modules, classes, Qt wrappers), which lasted 20 ms, and one could fall in a worker
    thread while the GUI thread wanted to paint the guest list (bench/scale.py). Start-up objects live as
    long as the process, so they are frozen: passes then walk only what came after, about a seventh.
    """
    gc.freeze()
