"""The reporting service's own database: the read model the indicators are computed from.

The read model is a set of fact tables, one row per thing that happened or exists (a unit, a
screening, a case, an activity, a session held), keyed by its natural id and dated by **event
time** (the day it happened, not the day it arrived), with the unit's village for the region.
Writing a row is an idempotent upsert, so a replay or a re-delivered event changes nothing, and
a late event restates the period it belongs to. Each row keeps its lineage: how many distinct
events fed it, when the latest fact among them happened (`last_event_at`: event time) and when
the latest of them reached the platform (`last_received_at`). `projected_events` holds the ids
of the events each generation has applied: a relay that delivers an event again (a retry after
a lost acknowledgement, at a new offset) changes nothing.

Every row carries the read model's `generation`: a rebuild fills the next generation from the
start of the canonical topics while the live one keeps serving, then switches `generations`
in one transaction. The Kafka positions projected so far live beside the rows they produced
(`positions`), committed in the same transaction.

Beside the facts, `rejections` keeps the provinces' submissions the platform refused, from
the receipts on `ibm.receipts.<province>`: ids, type and time only (receipts carry no
personal data), for the data health's rejected submissions per province and month.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)
from sqlalchemy.types import TypeEngine

from shared.messaging.tables import platform_tables

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()
platform = platform_tables(metadata)


def _string(length: int) -> TypeEngine[str]:
    """A string compared byte by byte on PostgreSQL (`COLLATE "C"`; migration 0006): every
    value here is ASCII (codes, ids, enum names), so the order is the same as the cluster's
    own collation, but keys are inserted and compared without the locale's rules (ids into
    their index about a fifth faster), and a prefix (`LIKE '33.%'`) can use the index."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


generations = Table(
    "generations",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("current", Integer, nullable=False),
    Column("switched_at", DateTime(timezone=True), nullable=False),
)

positions = Table(
    "positions",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("topic", _string(255), primary_key=True),
    Column("partition", Integer, primary_key=True),
    Column("next_offset", BigInteger, nullable=False),
)

projected_events = Table(
    "projected_events",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("event_id", _string(128), primary_key=True),
)

cube_changes = Table(
    "cube_changes",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("province_code", _string(2), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
"""What the projected batches touched, for the background suppression (`suppressor.py`): one
row per province and year of the facts written (year 0: every year, e.g. a unit formed adds
its village to every year's cubes), whose `version` goes up with each batch that touches it,
in that batch's transaction. A suppressed cube is stale when a row of its province, for its
year or an earlier one, has moved past the version it was built on."""


rejections = Table(
    "rejections",
    metadata,
    Column("generation", Integer, primary_key=True),
    Column("province_code", _string(2), primary_key=True),
    Column("original_event_id", _string(512), primary_key=True),
    Column("original_type", _string(512), nullable=False),
    Column("month", _string(7), nullable=False),
    Column("rejected_at", DateTime(timezone=True), nullable=False),
)
"""One row per submission a province sent and the platform refused (`EventRejected`), keyed by
the id the province gave it: a receipt delivered again, or the same message refused again,
is one rejected submission. `month` is the receipt's month in the province's own time zone
(WIB/WITA/WIT), `rejected_at` the receipt's CloudEvents time; the first refusal counts."""

REJECTIONS_MONTH = Index("rejections_month", rejections.c.generation, rejections.c.month)


def _fact(name: str, keys: list[Column[Any]], *columns: Column[Any]) -> Table:
    """A fact table: generation + natural key, the unit and its village, the facts, lineage."""
    unit = [] if any(k.name == "unit_id" for k in keys) else [Column("unit_id", _string(64))]
    return Table(
        name,
        metadata,
        Column("generation", Integer, primary_key=True),
        *keys,
        *unit,
        Column("village_code", _string(13), nullable=True, index=True),
        *columns,
        Column("events", Integer, nullable=False),
        Column("last_event_at", DateTime(timezone=True), nullable=False),
        Column("last_received_at", DateTime(timezone=True), nullable=True),
    )


units = _fact(
    "units",
    [Column("unit_id", _string(64), primary_key=True)],
    Column("formed_on", Date, nullable=True),
    Column("formation", _string(20), nullable=True),
    Column("status", _string(12), nullable=True),
    Column("status_on", Date, nullable=True),
)

agents = _fact(
    "agents",
    [Column("agent_id", _string(64), primary_key=True)],
    Column("appointed_on", Date, nullable=True),
    Column("deactivated_on", Date, nullable=True),
)

trainings = _fact(
    "trainings",
    [
        Column("agent_id", _string(64), primary_key=True),
        Column("training_id", _string(64), primary_key=True),
    ],
    Column("completed_on", Date, nullable=False),
    Column("training_kind", _string(30), nullable=False),
)

activities = _fact(
    "activities",
    [Column("activity_id", _string(64), primary_key=True)],
    Column("held_on", Date, nullable=False),
    Column("activity_type", _string(20), nullable=False),
    Column("participants", Integer, nullable=False),
    Column("people_screened", Integer, nullable=True),
)

services_held = _fact(
    "services_held",
    [Column("session_id", _string(64), primary_key=True)],
    Column("held_on", Date, nullable=False),
    Column("session_type", _string(30), nullable=False),
)

screenings = _fact(
    "screenings",
    [Column("case_id", _string(64), primary_key=True)],
    Column("screened_on", Date, nullable=False),
    Column("risk_level", _string(10), nullable=False),
    Column("injecting", Boolean, nullable=False),
)

screened_substances = _fact(
    "screened_substances",
    [
        Column("case_id", _string(64), primary_key=True),
        Column("substance", _string(40), primary_key=True),
    ],
    Column("screened_on", Date, nullable=False),
    Column("risk_level", _string(10), nullable=False),
)

cases = _fact(
    "cases",
    [Column("case_id", _string(64), primary_key=True)],
    Column("enrolled_on", Date, nullable=True),
    Column("admission_route", _string(12), nullable=True),
    Column("aftercare_source", _string(20), nullable=True),
    Column("risk_level", _string(10), nullable=True),
    Column("closed_on", Date, nullable=True),
    Column("outcome", _string(20), nullable=True),
)

stage_entries = _fact(
    "stage_entries",
    [
        Column("case_id", _string(64), primary_key=True),
        Column("stage", _string(12), primary_key=True),
    ],
    Column("entered_on", Date, nullable=False),
)

referrals = _fact(
    "referrals",
    [Column("referral_id", _string(64), primary_key=True)],
    Column("referred_on", Date, nullable=True),
    Column("destination_type", _string(30), nullable=True),
    Column("resolved_on", Date, nullable=True),
    Column("resolution", _string(12), nullable=True),
)

relapses = _fact(
    "relapses",
    [Column("event_id", _string(64), primary_key=True)],  # a report has no id of its own
    Column("case_id", _string(64), nullable=False),
    Column("relapsed_on", Date, nullable=False),
    Column("source", _string(20), nullable=False),
)

FACT_TABLES = (
    units,
    agents,
    trainings,
    activities,
    services_held,
    screenings,
    screened_substances,
    cases,
    stage_entries,
    referrals,
    relapses,
)
