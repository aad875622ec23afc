"""Giving memory the process has freed back to the operating system, keeping the C heap to a
few arenas, and keeping what a service made to start out of the garbage collector's passes."""

from __future__ import annotations

import ctypes
import functools
import gc
import os
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


_M_ARENA_MAX = -8
"""glibc's `mallopt` parameter for the most heaps (arenas) threads may share."""


def few_arenas(arenas: int = 1) -> None:
    """At most `arenas` C heaps for the process's threads (glibc's `M_ARENA_MAX`; by default
    eight per core), unless `MALLOC_ARENA_MAX` is set. Call before any thread starts.

    Each heap keeps what its threads freed, so with a heap per thread (the event loop, the
    suppressor, SQLite's and tracing's threads) the peak of one is added to what the others
    hold. Reporting at national size (`bench_platform --national-only`), peak RSS: 331 to 339 MB
    with glibc's default, 291 to 302 MB with one heap; two heaps gave 294 to 296 MB in three runs of
    five and 417 to 420 MB in the other two. The threads share the heap's lock; most of their
    allocations are Python's own (`pymalloc`), made holding the GIL anyway. Elsewhere than
    glibc, nothing to do."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    mallopt: Callable[[int, int], int] | None = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(_M_ARENA_MAX, arenas)


def started() -> int:
    """Leave what exists once a service has started (its modules, classes, functions, the app:
    about 160,000 objects) out of the cyclic garbage collector's passes (`gc.freeze`).
    Returns how many objects that is.

    Each full pass walks every object the collector tracks, and a full pass stops the event
    loop for as long as it takes: 120 to 160 ms in reporting serving the national read model
    (`bench_platform --national-only`, timed with `gc.callbacks`), about 25 times a run, and up
    to 130 ms in the gateway. Frozen, the passes took 38 ms on average (at most 95 ms). What
    starting made and still holds is never garbage; what it made and let go of is collected
    first."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
