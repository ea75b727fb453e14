"""A lock for Python-heavy work in worker threads, so the GUI thread is not starved of the GIL.

libvirt calls release the GIL, so workers can wait on hosts in parallel. Parsing XML or stats records
is pure Python, though: eight workers doing it at once made one tree repaint take 650 ms instead of
36 ms (bench/scale.py), because the GUI thread queued for the GIL behind each of them. Holding this
lock around such work lets one worker at a time compete with the GUI thread.
"""

from __future__ import annotations

import threading

PYTHON_WORK = threading.Lock()
