"""Short texts for counts, sizes and rates."""

from __future__ import annotations

from vmgui.ui import formatting


def test_one_of_a_thing_is_singular() -> None:
    assert [formatting.count(n, "guest") for n in (0, 1, 2)] == ["0 guests", "1 guest", "2 guests"]
