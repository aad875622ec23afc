"""Waiting for what another task, process or service does: one condition, one deadline
(STYLE.md: no sleeps in tests)."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T] | T],
    seconds: float = 30,
    *,
    every: float = 0.05,
    what: str | None = None,
) -> T:
    """Ask `check` (plain or async) until its answer is truthy, and return that answer.

    Past `seconds` the test fails, naming what it waited for (`what`, else the check's name)
    and the last answer it got. An exception raised by `check` is not a "not yet": it fails
    the test at once."""
    last: object = None
    deadline = asyncio.timeout(seconds)
    try:
        async with deadline:
            while True:
                answer = check()
                value: T = await answer if inspect.isawaitable(answer) else answer
                last = value
                if value:
                    return value
                await asyncio.sleep(every)
    except TimeoutError:
        if not deadline.expired():
            raise  # the check's own timeout, not ours
        name = what or getattr(check, "__name__", repr(check))
        raise AssertionError(
            f"{name} did not hold within {seconds:g} s; last answer: {last!r}"
        ) from None
