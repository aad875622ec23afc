"""The scheduling service's own database: what it learned of units, agents and cases from
other services' events, and the plans and sessions it keeps."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from shared.messaging.tables import platform_tables

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()
platform = platform_tables(metadata, answers_provinces=True)

units = Table(
    "units",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("province_code", String(2), nullable=False),
    Column("village_code", String(13), nullable=False),
    Column("status", String(12), nullable=False),
    # The date the current status holds from (a suspension's effective date); null while the
    # unit has been active since it was formed.
    Column("status_on", Date, nullable=True),
    # Null for units learned before scheduling kept it: their activities are not checked
    # against it.
    Column("formed_on", Date, nullable=True),
)

agents = Table(
    "agents",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("unit_id", String(64), nullable=False, index=True),
    Column("active", Boolean, nullable=False),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("unit_id", String(64), nullable=False, index=True),
    Column("client_ref", String(64), nullable=False),
    Column("screened_on", Date, nullable=True),
    Column("closed", Boolean, nullable=False, default=False),
    # Set when the case reached the drop-out threshold of consecutive misses; cleared by a
    # session done, so a later run of misses flags it again.
    Column("at_risk_on", Date, nullable=True),
    # The one agent who holds the case's sessions (continuity of care); null in a unit that
    # prefers rotation, and for cases planned before primary agents existed.
    Column("primary_agent_id", String(64), nullable=True),
)

plans = Table(
    "plans",
    metadata,
    Column("plan_id", String(64), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.case_id"), nullable=False, unique=True),
    Column("template", String(40), nullable=False),
    Column("starts_on", Date, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("plan_id", String(64), ForeignKey("plans.plan_id"), nullable=False, index=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("week", Integer, nullable=False),
    Column("session_type", String(30), nullable=False),
    Column("due_on", Date, nullable=False),
    Column("agent_id", String(64), nullable=False, index=True),
    Column("state", String(12), nullable=False),
    Column("miss_reason", String(30), nullable=True),
    Column("rescheduled_from", Date, nullable=True),  # the date first planned
    Column("reschedule_reason", String(30), nullable=True),
    Column("held_on", Date, nullable=True),  # the day it took place, once done
    # Set when an agent closed a missed session without making it up: it leaves the worklist.
    Column("closed_on", Date, nullable=True),
    # The sweeper's ranges: open sessions by due date (`sweeper.windows`).
    Index("ix_sessions_state_due_on", "state", "due_on"),
)

activities = Table(
    "activities",
    metadata,
    Column("activity_id", String(64), primary_key=True),
    Column("unit_id", String(64), nullable=False, index=True),
    Column("activity_type", String(20), nullable=False),
    Column("held_on", Date, nullable=False),
    Column("participants", Integer, nullable=False),
    Column("people_screened", Integer, nullable=True),
    # A province's own id of the record, so a submission is recorded once.
    Column("province_code", String(2), nullable=True),
    Column("submission_id", String(64), nullable=True),
    UniqueConstraint("province_code", "submission_id"),
)
