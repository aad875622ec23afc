"""Canonical events as the other services publish them, for reporting's tests and benchmark:
built from the contracts' own examples with the fields that matter overridden, wrapped and
published to the real broker."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from shared.contracts import client_case, registry, scheduling
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.messaging.broker import Topics, make_producer
from tests.unit.contracts.examples import from_examples

WITA = timezone(timedelta(hours=8))


def _where(unit: str, village: str) -> dict[str, str]:
    return {"unit_id": unit, "province_code": village[:2], "village_code": village}


def unit_formed(
    unit: str, village: str, formed_on: date, formation: str = "bnn_target"
) -> EventData:
    return from_examples(
        registry.UnitFormed, **_where(unit, village), formed_on=formed_on, formation=formation
    )


def screened(
    unit: str, village: str, on: date, level: str = "moderate", case_id: str | None = None
) -> EventData:
    case_id = case_id or str(uuid.uuid4())
    substance = "alcohol" if level != "high" else "amphetamine_type_stimulants"
    score = {"low": 3, "moderate": 14, "high": 30}[level]
    return from_examples(
        client_case.ClientScreened,
        **_where(unit, village),
        case_id=case_id,
        screening_id=f"s-{case_id}",
        client_ref=hashlib.sha256(case_id.encode()).hexdigest(),
        scores=[{"substance": substance, "score": score, "level": level}],
        overall_level=level,
        screened_at=datetime.combine(on, time(10), WITA),
    )


def enrolled(
    unit: str,
    village: str,
    case_id: str,
    on: date,
    route: str = "voluntary",
    level: str = "moderate",
) -> EventData:
    return from_examples(
        client_case.ClientEnrolled,
        **_where(unit, village),
        case_id=case_id,
        client_ref=hashlib.sha256(case_id.encode()).hexdigest(),
        enrolled_on=on,
        admission_route=route,
        aftercare_source="balai" if route == "aftercare" else None,
        risk_level=level,
    )


def closed(
    unit: str, village: str, case_id: str, on: date, outcome: str = "completed"
) -> EventData:
    return from_examples(
        client_case.CaseClosed,
        **_where(unit, village),
        case_id=case_id,
        client_ref=hashlib.sha256(case_id.encode()).hexdigest(),
        outcome=outcome,
        closed_on=on,
    )


def activity(unit: str, village: str, on: date, participants: int = 30) -> EventData:
    return from_examples(
        scheduling.ActivityHeld,
        **_where(unit, village),
        activity_id=str(uuid.uuid4()),
        held_on=on,
        participants=participants,
        participants_female=None,
        people_screened=None,
    )


async def publish(
    bootstrap: str, topics: Topics, events: Iterable[EventData | tuple[EventData, dict[str, Any]]]
) -> None:
    """Publish as a relay would (keyed by subject); `(event, {"time": …, "event_id": …})`
    sets the CloudEvents attributes."""
    producer = make_producer(bootstrap, client_id="test-services")
    await producer.start()
    try:
        for item in events:
            data, attributes = item if isinstance(item, tuple) else (item, {})
            attributes.setdefault("time", datetime.now(UTC))
            key, headers, value = to_kafka(wrap(data, source="/pulih/test", **attributes))
            await producer.send(topics.name(data.topic), value=value, key=key, headers=headers)
        await producer.flush()
    finally:
        await producer.stop()
