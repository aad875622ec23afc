"""The one helper tests wait with: it returns the first answer that holds, and past its
deadline fails saying what it waited for and what it last saw."""

from __future__ import annotations

import time

import pytest

from tests.eventually import eventually


async def test_the_first_answer_that_holds_is_returned() -> None:
    answers = iter([None, [], ["session-1"]])

    async def worklist() -> list[str] | None:
        return next(answers)

    assert await eventually(worklist, 5, every=0) == ["session-1"]
    assert await eventually(lambda: 3, 5) == 3  # a plain function too


async def test_past_the_deadline_the_failure_names_the_wait_and_the_last_answer() -> None:
    async def received() -> int:
        return 0

    started = time.monotonic()
    with pytest.raises(
        AssertionError, match=r"^received did not hold within 0.2 s; last answer: 0$"
    ):
        await eventually(received, 0.2)
    assert 0.2 <= time.monotonic() - started < 2
    with pytest.raises(AssertionError, match=r"^the unit in client-case did not hold"):
        await eventually(lambda: None, 0.1, what="the unit in client-case")


async def test_a_check_that_raises_fails_at_once() -> None:
    def broken() -> bool:
        raise KeyError("74")

    with pytest.raises(KeyError):
        await eventually(broken, 30)
