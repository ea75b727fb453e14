"""Start-up objects are kept out of the garbage collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from vmgui.ui.gc_pauses import freeze_startup_objects


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # later tests' garbage must still be collected


def test_a_full_pass_no_longer_walks_what_start_up_made(unfrozen: None) -> None:
    import vmgui.ui.main_window  # noqa: F401  (the window's modules, as at start-up)

    walked_before = len(gc.get_objects())
    freeze_startup_objects()
    later = [[n] for n in range(10)]  # made after start-up: walked (and collected) as usual
    walked = gc.get_objects()
    assert len(walked) < walked_before / 4
    assert any(o is later for o in walked)
