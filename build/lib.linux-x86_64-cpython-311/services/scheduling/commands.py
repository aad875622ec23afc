"""Scheduling's commands: what an agent (over HTTP) or a province (on its inbound topic)
records, as plain frozen data. `batches.HANDLERS` maps attendance and activities, which come
in provinces' batches, to their set-based use cases; `records.HANDLERS` maps an agent's work
on one session or case — a miss, a move, a close, a re-plan — to its use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.contracts.types import ActivityType, RescheduleReason, SessionMissReason


@dataclass(frozen=True)
class RecordAttendance:
    session_id: str
    unit_id: str
    """The unit the recorder speaks for: the session must be one of its cases'."""
    held_on: date
    agent_id: str
    duration_minutes: int | None = None
    province: str | None = None
    """A province's submission: the session's unit must be in it (an agent's: None)."""


@dataclass(frozen=True)
class RecordActivity:
    unit_id: str
    activity_type: ActivityType
    held_on: date
    agent_ids: tuple[str, ...]
    participants: int
    participants_female: int | None = None
    people_screened: int | None = None
    submission: tuple[str, str] | None = None
    """A province's (code, own id) for the activity: recorded once."""


@dataclass(frozen=True)
class RecordMissed:
    """A province's miss: the session did not take place (an agent's is `RecordMiss`)."""

    session_id: str
    unit_id: str
    """The unit the recorder speaks for: the session must be one of its cases'."""
    reason: SessionMissReason
    agent_id: str
    province: str
    """The sending province: the session's unit must be in it."""


Command = RecordAttendance | RecordMissed | RecordActivity


@dataclass(frozen=True)
class RecordMiss:
    session_id: str
    units: tuple[str, ...]
    """The units the giver is an agent of: the session must be one of their cases'."""
    reason: SessionMissReason
    agent_id: str


@dataclass(frozen=True)
class Reschedule:
    session_id: str
    units: tuple[str, ...]
    due_on: date
    reason: RescheduleReason
    agent_id: str


@dataclass(frozen=True)
class CloseMissed:
    session_id: str
    units: tuple[str, ...]
    agent_id: str


@dataclass(frozen=True)
class Replan:
    case_id: str
    units: tuple[str, ...]
    starts_on: date
    agent_id: str
    reason: RescheduleReason = RescheduleReason.OTHER


AgentCommand = RecordMiss | Reschedule | CloseMissed | Replan
