"""What a service made to start is left out of the garbage collector's passes; what it makes
afterwards is still collected."""

from __future__ import annotations

import gc

from shared.heap import started


def test_what_existed_at_the_start_is_frozen_and_later_cycles_are_still_collected() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    made_before = Node()
    try:
        frozen = started()
        assert frozen == gc.get_freeze_count() > 1000
        assert not any(o is made_before for o in gc.get_objects())  # skipped by every pass

        first, second = Node(), Node()
        first.other, second.other = second, first  # a cycle only the collector can free
        del first, second
        assert gc.collect() >= 2
    finally:
        gc.unfreeze()
