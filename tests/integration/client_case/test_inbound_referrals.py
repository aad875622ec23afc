"""A province refers, follows up and transfers the cases it screened, from its inbound topic
alone: a referral is named afterwards by the province's own `referral_key`, its receipt gives
the canonical `referral_id`, a closure may name the referral it ends with, and a transfer moves
the case to another unit of the province, which the province goes on naming by the same
screening id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.client_case.db import known_units
from shared.contracts import client_case as events
from shared.contracts import client_case_inbound as provincial
from shared.contracts import registry
from shared.contracts.envelope import to_kafka, wrap
from shared.contracts.platform import EventAccepted
from shared.messaging.broker import make_producer
from tests.auth import bearer
from tests.bus import read_events
from tests.eventually import eventually
from tests.integration.conftest import (
    HIGH_RISK,
    Platform,
    appoint_agent,
    form_unit,
    province_sends,
    refusals,
)
from tests.unit.contracts.examples import from_examples

SCREENING_1, SCREENING_2 = "sultra-screening-0000001", "sultra-screening-0000002"
REF_1, REF_2, REF_UNKNOWN = "sultra-referral-0001", "sultra-referral-0002", "sultra-referral-0404"


async def _unit_known(p: Platform, unit: dict[str, Any]) -> dict[str, Any]:
    assert p.case_runtime.engine is not None
    engine = p.case_runtime.engine

    async def known_to_client_case() -> bool:
        async with engine.connect() as connection:
            found = await connection.execute(
                select(known_units.c.unit_id).where(known_units.c.unit_id == unit["unit_id"])
            )
            return found.scalar() is not None

    await eventually(known_to_client_case)
    return unit


async def _unit_of(p: Platform, district: str) -> dict[str, Any]:
    """A unit formed through the registry's API, with the fields a fact about it carries."""
    unit_id = await form_unit(p, district)
    unit = (await p.registry.get(f"/units/{unit_id}", headers=bearer("national-operator"))).json()
    return {"unit_id": unit_id, "province_code": "74", "village_code": unit["village_code"]}


async def _unit_of_another_province(p: Platform) -> dict[str, Any]:
    """A unit of Sulawesi Selatan, published on the registry's topic as the registry would."""
    formed = from_examples(
        registry.UnitFormed,
        unit_id="unit-in-73-0000001",
        province_code="73",
        village_code="73.71.01.1001",
    )
    producer = make_producer(p.bootstrap, client_id="registry")
    await producer.start()
    try:
        key, headers, value = to_kafka(wrap(formed, source="/services/registry"))
        await producer.send_and_wait(
            p.topics.name(registry.TOPIC), value=value, key=key, headers=headers
        )
    finally:
        await producer.stop()
    return await _unit_known(
        p, {"unit_id": formed.unit_id, "province_code": "73", "village_code": "73.71.01.1001"}
    )


async def test_a_province_refers_follows_up_transfers_and_closes_from_kafka_alone(
    platform: Platform,
) -> None:
    p = platform
    first = await _unit_of(p, "74.71.01")
    second = await _unit_of(p, "74.71.02")
    elsewhere = await _unit_of_another_province(p)
    agent = await appoint_agent(p, first["unit_id"])
    second_agent = await appoint_agent(p, second["unit_id"])
    today = datetime.now(UTC).date()

    def screening(
        number: int, person: int | None = None, where: dict[str, Any] = first
    ) -> provincial.ScreeningSubmitted:
        return provincial.ScreeningSubmitted.model_validate(
            {
                **where,
                "submission_id": f"sultra-screening-{number:07d}",
                "programme": "sil",
                "screened_at": datetime.now(UTC),
                "screener_agent_id": agent if where is first else second_agent,
                "province_client_key": f"sultra-person-{person or number:07d}",
                "substances": HIGH_RISK,
                "injection": "never",
            }
        )

    def referral(submission: str, key: str) -> provincial.ReferralSubmitted:
        return provincial.ReferralSubmitted.model_validate(
            {
                **first,
                "submission_id": submission,
                "referral_key": key,
                "destination_type": "klinik_pratama",
                "destination_facility": "KP-BNNK-74.71",
                "reason": "high_risk",
                "referred_on": today,
                "referred_by_agent_id": agent,
            }
        )

    def resolution(
        key: str, outcome: str, where: dict[str, Any] = first
    ) -> provincial.ReferralResolutionSubmitted:
        return provincial.ReferralResolutionSubmitted.model_validate(
            {
                **where,
                "submission_id": SCREENING_1,
                "referral_key": key,
                "resolution": outcome,
                "resolved_on": today,
            }
        )

    def closure(submission: str, key: str | None, where: dict[str, Any]) -> Any:
        return provincial.ClosureSubmitted.model_validate(
            {
                **where,
                "submission_id": submission,
                "outcome": "referred_out",
                "closed_on": today,
                "referral_key": key,
            }
        )

    def transfer(to: dict[str, Any]) -> provincial.TransferSubmitted:
        return provincial.TransferSubmitted.model_validate(
            {**to, "submission_id": SCREENING_1, "transferred_on": today}
        )

    sent: list[tuple[str, Any]] = [
        ("s1", screening(1)),
        ("s2", screening(2)),
        ("ref", referral(SCREENING_1, REF_1)),
        ("ref-again", referral(SCREENING_1, REF_1)),  # a province's key names one referral
        ("ref-other", referral(SCREENING_2, REF_2)),
        ("accepted", resolution(REF_1, "accepted")),
        ("attended", resolution(REF_1, "attended")),
        ("declined-after", resolution(REF_1, "declined")),  # attended is final
        ("resolve-other-case", resolution(REF_2, "accepted")),
        ("resolve-unknown", resolution(REF_UNKNOWN, "accepted")),
        # a unit of another province, under this province's own region fields
        ("to-elsewhere", transfer({**first, "unit_id": elsewhere["unit_id"]})),
        ("to-second", transfer(second)),
        ("old-unit", closure(SCREENING_1, REF_1, first)),  # the case is the second unit's now
        ("close-other-ref", closure(SCREENING_1, REF_2, second)),
        ("close", closure(SCREENING_1, REF_1, second)),
        ("close-not-taken-up", closure(SCREENING_2, REF_2, first)),  # REF_2 never answered
        # person 3 has an open case in each unit: the first cannot move to the second
        ("s3", screening(3)),
        ("s3-in-second", screening(4, person=3, where=second)),
    ]
    receipts = await province_sends(p, sent)
    refused = refusals(receipts)
    # Once person 3's case in the second unit is recorded, their first case cannot move there.
    again = await province_sends(
        p,
        [
            (
                "to-second-again",
                provincial.TransferSubmitted.model_validate(
                    {**second, "submission_id": "sultra-screening-0000003", "transferred_on": today}
                ),
            )
        ],
    )
    assert refusals(again) == {"to-second-again": [("unit_id", "one-open-case")]}
    assert refused == {
        "ref-again": [("referral_key", "unique")],
        "declined-after": [("referral_key", "open-referral")],
        "resolve-other-case": [("referral_key", "referral-of-case")],
        "resolve-unknown": [("referral_key", "referral-of-case")],
        "to-elsewhere": [("unit_id", "own-province")],
        "old-unit": [("unit_id", "case-of-unit")],
        "close-other-ref": [("referral_key", "referral-of-case")],
        "close-not-taken-up": [("referral_key", "referral-taken-up")],
    }
    canonical = [e.data for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 4 + 6)]
    referred = [e for e in canonical if isinstance(e, events.ClientReferred)]
    resolved = [e for e in canonical if isinstance(e, events.ReferralResolved)]
    [moved] = [e for e in canonical if isinstance(e, events.CaseTransferred)]
    [closed] = [e for e in canonical if isinstance(e, events.CaseClosed)]
    first_referral = next(r for r in referred if r.case_id == moved.case_id)
    assert (first_referral.destination_type, first_referral.risk_level) == (
        "klinik_pratama",
        "high",
    )
    assert [r.resolution for r in resolved] == ["accepted", "attended"]
    assert {r.referral_id for r in resolved} == {first_referral.referral_id}
    assert (moved.from_unit_id, moved.unit_id) == (first["unit_id"], second["unit_id"])
    assert (closed.case_id, closed.unit_id) == (moved.case_id, second["unit_id"])
    assert (closed.outcome, closed.referral_id) == ("referred_out", first_referral.referral_id)
    # The receipts carry what the province needs to go on: the case and the referral.
    for message_id in ("ref", "accepted", "attended"):
        receipt = receipts[message_id]
        assert isinstance(receipt, EventAccepted)
        assert receipt.created == {
            "case_id": moved.case_id,
            "referral_id": first_referral.referral_id,
        }
    for message_id in ("to-second", "close"):
        assert receipts[message_id].created == {"case_id": moved.case_id}  # type: ignore[union-attr]
