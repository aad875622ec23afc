"""Giving memory the process has freed back to the operating system."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    trim: Callable[[int], int] | None = getattr(ctypes.CDLL(None), "malloc_trim", None)
    return trim


def give_back() -> None:
    """Return the C heap's free pages to the operating system (glibc's `malloc_trim`).

    A large computation (a cube suppressed in a worker thread) frees its arrays and objects
    into the heap of the thread that made them, where they stay in the process's resident
    memory until that heap is trimmed; the next one is then measured on top of the last.
    Elsewhere than glibc, nothing to do."""
    trim = _trim()
    if trim is not None:
        trim(0)
