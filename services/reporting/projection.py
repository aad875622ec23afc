"""From canonical events to fact rows: what each event says about which row of the read model.

Pure functions, no I/O. An event becomes zero or more `Fact`s (table, natural key, the columns
it knows); a batch folds its facts per row, later events overriding earlier ones column by
column, so one upsert per row and table goes to the database however many events touched it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, NotRequired
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import Date, Table
from typing_extensions import TypedDict

from services.reporting import db
from shared.contracts import client_case, registry, scheduling
from shared.contracts.base import EventData
from shared.contracts.catalog import all_contracts
from shared.contracts.platform import EventRejected
from shared.regions import time_zone_of

Read = dict[str, Any]
"""The fields of one event that the projection reads, each checked by its contract's own type
(patterns, lengths, enums, dates), nothing else of the event built."""
Fact = tuple[Table, tuple[str, ...], dict[str, Any]]
"""A row an event touches: its table, natural key and the columns the event knows."""
Rule = Callable[[Read, str], list[Fact]]

_WHERE = ("unit_id", "province_code", "village_code")
"""Read from every unit-scoped event: the row's unit and village, the province's time zone."""


@dataclass(frozen=True)
class Reading:
    """How the projection reads one event type: a validator built once from the contract's
    annotations of the fields its rule needs (other fields and the contract's cross-field
    validators are not run again: the relay published only events that passed them, and what
    the read model keeps is checked), the rule, and the field saying when the fact happened."""

    contract: type[EventData]
    rule: Rule | None
    when: str | None
    reader: TypeAdapter[Read]

    def read(self, body: bytes) -> Read:
        """The fields the rule needs, or pydantic's `ValidationError` naming what is wrong
        (a body that is not a JSON object included)."""
        return self.reader.validate_json(body)

    def facts(self, fields: Read, event_id: str) -> list[Fact]:
        """The rows the event touches, or none for events that feed no indicator (plans,
        overdue notices: the work, not the outcome)."""
        return self.rule(fields, event_id) if self.rule is not None else []

    def happened(self, fields: Read) -> datetime | None:
        """When the fact happened, in UTC: its own instant (a screening's, with the unit's
        offset), or the start of its day in the province's time zone for facts dated by day
        (an activity held on 10 March happened on the 10th, wherever the platform was when it
        heard)."""
        if self.when is None:
            return None
        value = fields[self.when]
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return _start_of_day(value, fields["province_code"])


@lru_cache(maxsize=65536)
def _start_of_day(day: date, province_code: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(time_zone_of(province_code))).astimezone(UTC)


def _reader(contract: type[EventData], fields: Iterable[str]) -> TypeAdapter[Read]:
    annotations: dict[str, Any] = {}
    for name in fields:
        info = contract.model_fields[name]
        kind = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        if not info.is_required():
            if info.default is not None:  # a missing field reads as None (`.get`)
                raise TypeError(f"{contract.__name__}.{name}: a default other than None")
            kind = NotRequired[kind]
        annotations[name] = kind
    shape: Any = TypedDict  # built from the contract at import, not spelled out
    return TypeAdapter(shape(f"{contract.__name__}Read", annotations))


_READINGS: dict[str, Reading] = {}
"""By CloudEvents type."""


def _rule(contract: type[EventData], when: str, *reads: str) -> Callable[[Rule], Rule]:
    """Register how an event becomes facts: `when` names its field saying when it happened,
    `reads` the other fields the rule uses (the unit, province and village always)."""

    def register(rule: Rule) -> Rule:
        fields = dict.fromkeys((*_WHERE, when, *reads))
        _READINGS[contract.event_type] = Reading(contract, rule, when, _reader(contract, fields))
        return rule

    return register


def reading_of(event_type: str) -> Reading | None:
    """How to read an event of this type, or None for a type not in the catalog. Types that
    feed nothing are read as JSON objects only."""
    found = _READINGS.get(event_type)
    if found is None:
        for contract in all_contracts():
            if contract.event_type not in _READINGS:
                _READINGS[contract.event_type] = Reading(contract, None, None, _ANY_OBJECT)
        found = _READINGS.get(event_type)
    return found


_ANY_OBJECT: TypeAdapter[Read] = TypeAdapter(dict[str, Any])


def _where(d: Read) -> dict[str, Any]:
    return {"unit_id": d["unit_id"], "village_code": d["village_code"]}


@_rule(registry.UnitFormed, "formed_on", "formation")
def _unit_formed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.units,
            (d["unit_id"],),
            {
                **_where(d),
                "formed_on": d["formed_on"],
                "formation": d["formation"],
                "status": "active",
            },
        )
    ]


@_rule(registry.UnitStatusChanged, "effective_on", "to_status")
def _unit_status_changed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.units,
            (d["unit_id"],),
            {**_where(d), "status": d["to_status"], "status_on": d["effective_on"]},
        )
    ]


@_rule(registry.RecoveryAgentAppointed, "appointed_on", "agent_id")
def _recovery_agent_appointed(d: Read, event_id: str) -> list[Fact]:
    return [(db.agents, (d["agent_id"],), {**_where(d), "appointed_on": d["appointed_on"]})]


@_rule(registry.RecoveryAgentDeactivated, "deactivated_on", "agent_id")
def _recovery_agent_deactivated(d: Read, event_id: str) -> list[Fact]:
    return [(db.agents, (d["agent_id"],), {**_where(d), "deactivated_on": d["deactivated_on"]})]


@_rule(registry.RecoveryAgentTrained, "completed_on", "agent_id", "training_id", "training_kind")
def _recovery_agent_trained(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.trainings,
            (d["agent_id"], d["training_id"]),
            {
                **_where(d),
                "completed_on": d["completed_on"],
                "training_kind": d["training_kind"],
            },
        )
    ]


@_rule(
    scheduling.ActivityHeld,
    "held_on",
    "activity_id",
    "activity_type",
    "participants",
    "people_screened",
)
def _activity_held(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.activities,
            (d["activity_id"],),
            {
                **_where(d),
                "held_on": d["held_on"],
                "activity_type": d["activity_type"],
                "participants": d["participants"],
                "people_screened": d.get("people_screened"),
            },
        )
    ]


@_rule(scheduling.SessionCompleted, "held_on", "session_id", "session_type")
def _session_completed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.services_held,
            (d["session_id"],),
            {**_where(d), "held_on": d["held_on"], "session_type": d["session_type"]},
        )
    ]


@_rule(client_case.ClientScreened, "screened_at", "case_id", "overall_level", "injecting", "scores")
def _client_screened(d: Read, event_id: str) -> list[Fact]:
    # The unit's day is what counts; the instant carries its own UTC offset.
    screened_on = d["screened_at"].date()
    case_id = d["case_id"]
    where = _where(d)
    return [
        (
            db.screenings,
            (case_id,),
            {
                **where,
                "screened_on": screened_on,
                "risk_level": d["overall_level"],
                "injecting": d["injecting"],
            },
        ),
        *(
            (
                db.screened_substances,
                (case_id, score.substance),
                {**where, "screened_on": screened_on, "risk_level": score.level},
            )
            for score in d["scores"]
        ),
    ]


@_rule(
    client_case.ClientEnrolled,
    "enrolled_on",
    "case_id",
    "admission_route",
    "aftercare_source",
    "risk_level",
)
def _client_enrolled(d: Read, event_id: str) -> list[Fact]:
    where = _where(d)
    return [
        (
            db.cases,
            (d["case_id"],),
            {
                **where,
                "enrolled_on": d["enrolled_on"],
                "admission_route": d["admission_route"],
                "aftercare_source": d.get("aftercare_source"),
                "risk_level": d["risk_level"],
            },
        ),
        (db.stage_entries, (d["case_id"], "intake"), {**where, "entered_on": d["enrolled_on"]}),
    ]


@_rule(client_case.CaseStageChanged, "changed_on", "case_id", "to_stage")
def _case_stage_changed(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.stage_entries,
            (d["case_id"], d["to_stage"]),
            {**_where(d), "entered_on": d["changed_on"]},
        )
    ]


@_rule(client_case.CaseClosed, "closed_on", "case_id", "outcome")
def _case_closed(d: Read, event_id: str) -> list[Fact]:
    where = _where(d)
    return [
        (
            db.cases,
            (d["case_id"],),
            {**where, "closed_on": d["closed_on"], "outcome": d["outcome"]},
        ),
        (db.stage_entries, (d["case_id"], "closed"), {**where, "entered_on": d["closed_on"]}),
    ]


@_rule(client_case.ClientReferred, "referred_on", "referral_id", "destination_type")
def _client_referred(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.referrals,
            (d["referral_id"],),
            {
                **_where(d),
                "referred_on": d["referred_on"],
                "destination_type": d["destination_type"],
            },
        )
    ]


@_rule(client_case.ReferralResolved, "resolved_on", "referral_id", "destination_type", "resolution")
def _referral_resolved(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.referrals,
            (d["referral_id"],),
            {
                **_where(d),
                "destination_type": d["destination_type"],
                "resolved_on": d["resolved_on"],
                "resolution": d["resolution"],
            },
        )
    ]


@_rule(client_case.RelapseReported, "relapsed_on", "case_id", "source")
def _relapse_reported(d: Read, event_id: str) -> list[Fact]:
    return [
        (
            db.relapses,
            (event_id,),
            {
                **_where(d),
                "case_id": d["case_id"],
                "relapsed_on": d["relapsed_on"],
                "source": d["source"],
            },
        )
    ]


_READINGS[EventRejected.event_type] = Reading(
    EventRejected,
    None,
    None,
    _reader(EventRejected, ("province_code", "original_event_id", "original_type")),
)


def rejection_of(fields: Read, received: datetime) -> dict[str, Any]:
    """The `rejections` row of a province's refused submission (its receipt's fields,
    `received` the receipt's time). Ids, type and time only: a receipt's reasons name fields
    and rules, and none of them is kept."""
    zone = ZoneInfo(time_zone_of(fields["province_code"]))
    return {
        "province_code": fields["province_code"],
        "original_event_id": fields["original_event_id"],
        "original_type": fields["original_type"],
        "month": received.astimezone(zone).strftime("%Y-%m"),
        "rejected_at": received.astimezone(UTC),
    }


class Batch:
    """Facts of one batch folded per row: one upsert per row however many events touched it.
    Each row's lineage: how many distinct events fed it, when the latest fact among them
    happened (`last_event_at`) and when the latest of them reached the platform
    (`last_received_at`, the event's CloudEvents time)."""

    def __init__(self) -> None:
        self.rows: dict[Table, dict[tuple[str, ...], dict[str, Any]]] = {
            t: {} for t in db.FACT_TABLES
        }
        self.rejections: dict[tuple[str, str], dict[str, Any]] = {}
        """Refused submissions by (province, the id it gave): the first receipt counts."""
        self.events = 0
        self.touched: set[tuple[str, int]] = set()
        """(province, year) of the facts folded: the suppressed cubes they change (year 0:
        every year's, for units, which place villages in every year's cubes, and for facts
        that carry no date of their own)."""

    def add(self, facts: Iterable[Fact], happened: datetime | None, received: datetime) -> None:
        """Fold one event's facts (`happened` and `received` in UTC, as `Reading.happened`
        gives it; None: when it was received). A fact's values dict becomes its row when the
        row is new."""
        self.events += 1
        if happened is None:
            happened = received
        rows, touched = self.rows, self.touched
        for table, key, values in facts:
            village = values.get("village_code")
            if village:  # no village, no cell below province level
                year = 0
                for column in _DATES[table]:
                    value = values.get(column)
                    if value is not None and (year == 0 or value.year < year):
                        year = value.year
                touched.add((village[:2], year))
            table_rows = rows[table]
            row = table_rows.get(key)
            if row is None:
                values["events"] = 1
                values["last_event_at"] = happened
                values["last_received_at"] = received
                table_rows[key] = values
                continue
            row.update(values)
            row["events"] += 1
            if happened > row["last_event_at"]:
                row["last_event_at"] = happened
            if received > row["last_received_at"]:
                row["last_received_at"] = received

    def reject(self, rejection: dict[str, Any]) -> None:
        self.events += 1
        key = (rejection["province_code"], rejection["original_event_id"])
        self.rejections.setdefault(key, rejection)


_DATES = {
    t: [c.name for c in t.columns if isinstance(c.type, Date)] if t is not db.units else []
    for t in db.FACT_TABLES
}
"""Each fact table's date columns: the years a fact about a row touches (none for units,
which place villages in every year's cubes)."""
