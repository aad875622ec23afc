"""What the registry's rules raise besides `RuleViolations`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The entity changed since the caller read it (optimistic concurrency)."""


class AlreadyRecorded(Exception):
    """An id the caller chose is taken: the fact was recorded before, or the id is reused."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(message)
