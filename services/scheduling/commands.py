"""Scheduling's commands: what an agent (over HTTP) or a province (on its inbound topic)
records, as plain frozen data. `batches.HANDLERS` maps each to its set-based use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from shared.contracts.types import ActivityType


@dataclass(frozen=True)
class RecordAttendance:
    session_id: str
    unit_id: str
    """The unit the recorder speaks for: the session must be one of its cases'."""
    held_on: date
    agent_id: str
    duration_minutes: int | None = None


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


Command = RecordAttendance | RecordActivity
