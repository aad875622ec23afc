"""A province submits screenings on its inbound topic, with the identity sealed to
client-case's public key: accepted ones become canonical `ClientScreened` events with the
same pseudonym the unit's own registration gives; refused ones get reasons; no identity
crosses the bus in clear."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from services.client_case.db import clients
from shared.contracts import client_case as events
from shared.contracts import client_case_inbound as provincial
from shared.contracts.base import EventData
from shared.contracts.platform import EventAccepted, EventRejected
from shared.messaging.broker import topic_size
from shared.security.encryption import generate_service_keypair, seal_identity
from tests.auth import bearer
from tests.bus import read_events, read_topic
from tests.integration.conftest import (
    HIGH_RISK,
    Platform,
    appoint_agent,
    form_unit,
    province_sends,
)
from tests.privacy import SECOND_NAME as NAME
from tests.privacy import SECOND_NIK as NIK


async def test_provincial_screenings_are_scored_recorded_and_answered(
    platform: Platform,
) -> None:
    p = platform
    unit_id = await form_unit(p)
    unit = (
        await p.registry.get(f"/units/{unit_id}", headers=bearer("province-operator:74"))
    ).json()
    public_key = (
        await p.cases.get("/identity-key", headers=bearer("province-operator:74"))
    ).json()["public_key"]
    _stranger_private, stranger_public = generate_service_keypair()

    def submission(number: int, **changes: object) -> provincial.ScreeningSubmitted:
        fields: dict[str, object] = {
            "unit_id": unit_id,
            "province_code": "74",
            "village_code": unit["village_code"],
            "submission_id": f"sultra-screening-{number:07d}",
            "identity_sealed": seal_identity(public_key, {"nik": NIK, "name": NAME}),
            "programme": "sil",
            "screened_at": datetime.now(UTC),
            "screener_agent_id": "agent-00000000042",
            "substances": HIGH_RISK,
            "injection": "past_3_months",
        }
        fields.update(changes)
        return provincial.ScreeningSubmitted.model_validate(fields)

    sent = [
        submission(1),
        submission(2),  # the same person again, screened a second time
        submission(3, identity_sealed=seal_identity(stranger_public, {"nik": NIK})),
        submission(4, unit_id="unit-that-does-not-exist-01"),
        submission(5, identity_sealed=None, province_client_key="sultra-person-0000042"),
        submission(6, screener_agent_id=await appoint_agent(p, await form_unit(p, "74.71.02"))),
    ]
    receipts = await province_sends(p, [(f"ce-{data.submission_id}", data) for data in sent])
    accepted = {k for k, v in receipts.items() if isinstance(v, EventAccepted)}
    assert accepted == {
        "ce-sultra-screening-0000001",
        "ce-sultra-screening-0000002",
        "ce-sultra-screening-0000005",
    }
    sealed_wrong = receipts["ce-sultra-screening-0000003"]
    assert isinstance(sealed_wrong, EventRejected)
    assert [(r.field, r.rule) for r in sealed_wrong.reasons] == [
        ("identity_sealed", "sealed-to-client-case")
    ]
    no_unit = receipts["ce-sultra-screening-0000004"]
    assert isinstance(no_unit, EventRejected)
    assert [(r.field, r.rule) for r in no_unit.reasons] == [("unit_id", "unit-exists")]
    foreign_screener = receipts["ce-sultra-screening-0000006"]
    assert isinstance(foreign_screener, EventRejected)
    assert [(r.field, r.rule) for r in foreign_screener.reasons] == [
        ("screener_agent_id", "agent-of-unit")
    ]

    screened = [e.data for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 3)]
    assert all(isinstance(s, events.ClientScreened) for s in screened)
    # Both submissions with the NIK are the one person, with one open case in the unit (the
    # second screening re-screens it), and the unit's own client for that NIK.
    refs_by_case: dict[str, list[str]] = {}
    for s in screened:
        assert isinstance(s, events.ClientScreened)
        refs_by_case.setdefault(s.case_id, []).append(s.client_ref)
    twice, once = sorted(refs_by_case.values(), key=len, reverse=True)
    assert len(twice) == 2 and len(set(twice)) == 1 and once[0] != twice[0]
    agent = bearer(f"unit-agent:{unit_id}")
    registered = (
        await p.cases.post(
            "/clients", headers=agent, json={"unit_id": unit_id, "identity": {"nik": NIK}}
        )
    ).json()
    assert registered["new"] is False
    assert p.case_runtime.engine is not None
    async with p.case_runtime.engine.connect() as connection:
        ref_of_registered = (
            await connection.execute(
                select(clients.c.client_ref).where(clients.c.client_id == registered["client_id"])
            )
        ).scalar_one()
    assert ref_of_registered == twice[0]
    assert all(s.injected_past_3_months for s in screened)  # type: ignore[union-attr]
    assert await topic_size(p.bootstrap, p.topics.name(events.TOPIC)) == 3

    everything = b""
    for name in ("ibm.inbound.74", "ibm.receipts.74", events.TOPIC):
        size = await topic_size(p.bootstrap, p.topics.name(name))
        for record in await read_topic(
            p.bootstrap, p.topics.name(name), until=lambda r, n=size: len(r) >= n
        ):
            everything += (record.value or b"") + b"".join(v for _, v in record.headers)
    assert len(everything) > 1000
    for secret in (NIK, NAME, "Fiktif"):
        assert secret.encode() not in everything


async def test_provincial_case_facts_follow_their_screening(platform: Platform) -> None:
    p = platform
    unit_id = await form_unit(p)
    unit = (
        await p.registry.get(f"/units/{unit_id}", headers=bearer("province-operator:74"))
    ).json()
    where = {"unit_id": unit_id, "province_code": "74", "village_code": unit["village_code"]}
    today = datetime.now(UTC).date()
    screening = provincial.ScreeningSubmitted.model_validate(
        {
            **where,
            "submission_id": "sultra-screening-0000777",
            "programme": "pbm",
            "screened_at": datetime.now(UTC),
            "screener_agent_id": "agent-00000000042",
            "province_client_key": "sultra-person-0000777",
            "substances": HIGH_RISK,
            "injection": "never",
        }
    )
    facts: list[tuple[str, EventData]] = [
        ("s1", screening),
        ("s1-again", screening),  # the same screening submitted under a new message id
        (
            "e1",
            provincial.EnrolmentSubmitted.model_validate(
                {
                    **where,
                    "submission_id": "sultra-screening-0000777",
                    "admission_route": "compulsory",
                    "enrolled_on": today,
                }
            ),
        ),
        (
            "st1",
            provincial.StageChangeSubmitted.model_validate(
                {
                    **where,
                    "submission_id": "sultra-screening-0000777",
                    "to_stage": "services",
                    "changed_on": today,
                }
            ),
        ),
        (
            "r1",
            provincial.RelapseSubmitted.model_validate(
                {
                    **where,
                    "submission_id": "sultra-screening-0000777",
                    "substances": ["alcohol"],
                    "source": "family_report",
                    "relapsed_on": today,
                    "reported_by_agent_id": "agent-00000000042",
                }
            ),
        ),
        (
            "c-unknown",
            provincial.ClosureSubmitted.model_validate(
                {
                    **where,
                    "submission_id": "sultra-screening-9999999",
                    "outcome": "completed",
                    "closed_on": today,
                }
            ),
        ),
        (
            "c1",
            provincial.ClosureSubmitted.model_validate(
                {
                    **where,
                    "submission_id": "sultra-screening-0000777",
                    "outcome": "dropped_out",
                    "closed_on": today,
                }
            ),
        ),
    ]
    receipts = await province_sends(p, facts)
    assert {k for k, v in receipts.items() if isinstance(v, EventAccepted)} == {
        "s1",
        "e1",
        "st1",
        "r1",
        "c1",
    }
    again, unknown = receipts["s1-again"], receipts["c-unknown"]
    assert isinstance(again, EventRejected) and isinstance(unknown, EventRejected)
    assert [(r.field, r.rule) for r in again.reasons] == [("submission_id", "unique-submission")]
    assert [(r.field, r.rule) for r in unknown.reasons] == [("submission_id", "known-submission")]

    canonical = await read_events(p.bootstrap, p.topics.name(events.TOPIC), 5)
    assert [type(e.data) for e in canonical] == [
        events.ClientScreened,
        events.ClientEnrolled,
        events.CaseStageChanged,
        events.RelapseReported,
        events.CaseClosed,
    ]
    assert len({e.subject for e in canonical}) == 1  # one case
    # Each receipt tells the province what it needs to go on: its own id and the case's.
    for accepted in ("s1", "e1", "st1", "r1", "c1"):
        receipt = receipts[accepted]
        assert isinstance(receipt, EventAccepted)
        assert receipt.submission_id == "sultra-screening-0000777"
        assert receipt.created == {"case_id": canonical[0].subject}
    closed = canonical[4].data
    assert isinstance(closed, events.CaseClosed) and closed.outcome == "dropped_out"
