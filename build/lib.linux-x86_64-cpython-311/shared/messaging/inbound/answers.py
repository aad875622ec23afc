"""What a service's use of inbound facts takes and gives back: a `Submission` in, an
`Accepted` or `Refused` answer out, for the province's receipt."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from shared.contracts.base import EventData
from shared.contracts.envelope import Reason
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations


@dataclass(frozen=True)
class Submission:
    """One inbound fact for its owner to apply."""

    province: str
    """The sending province (its inbound topic's 2-digit code): it speaks only for itself."""
    event_id: str
    event_type: str
    data: EventData


@dataclass(frozen=True)
class Accepted:
    canonical_event_id: str
    duplicate: bool = False
    created: Mapping[str, str] = field(default_factory=dict)
    """The ids the fact created or names (a screening's case), for the province's receipt."""
    submission_id: str | None = None
    """The province's own id of the fact, set by the answerer from the fact."""


@dataclass(frozen=True)
class Refused:
    reasons: list[Reason]
    bug: str | None = None
    """Where our own code failed (no values): the province gets `internal-error` and the
    record goes to the dead-letter topic."""


Answer = Accepted | Refused

ApplyBatch = Callable[[AsyncSession, Outbox, Sequence[Submission]], Awaitable[list[Answer]]]
"""A service's set-based use of inbound facts: one answer per submission, in order, with the
canonical events staged in the outbox and the changes made in the caller's transaction."""


def rule_reasons(exc: Exception) -> list[Reason] | None:
    """The reasons of the refusals every domain raises."""
    if isinstance(exc, RuleViolations):
        return [Reason(v.field, v.rule, v.message) for v in exc.violations]
    return None


INTERNAL_ERROR = Reason(
    None,
    "internal-error",
    "the platform failed to apply this fact; its operators are alerted and will redrive it",
)
