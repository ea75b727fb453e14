"""Guards against the PySide6 6.12.0 regression on CPython 3.11 that drops references to True and None."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPainter


class _Emitter(QObject):
    fired = Signal(int)


def test_5000_signal_emits_keep_true_alive() -> None:
    emitter = _Emitter()
    received: list[int] = []
    emitter.fired.connect(received.append)
    before = sys.getrefcount(True)
    for i in range(5000):
        emitter.fired.emit(i)
    assert len(received) == 5000
    assert sys.getrefcount(True) >= before - 50, "Signal.emit() leaks references to True (PySide6 6.12.0?)"


def test_20000_draw_image_calls_keep_none_alive() -> None:
    target = QImage(64, 64, QImage.Format.Format_RGB32)
    source = QImage(16, 16, QImage.Format.Format_RGB32)
    source.fill(0x336699)
    before = sys.getrefcount(None)
    painter = QPainter(target)
    for i in range(20000):
        painter.drawImage(i % 48, 0, source)
    painter.end()
    assert target.pixel(0, 0) & 0xFFFFFF == 0x336699
    assert sys.getrefcount(None) >= before - 50, "QPainter.drawImage() leaks references to None (PySide6 6.12.0?)"
