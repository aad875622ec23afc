"""A client's whole journey through the real registry and client-case services and the real
broker: registered in a unit, screened, enrolled, referred and closed. The canonical events
carry the pseudonym only; every byte on the bus and every log line is searched for the
client's NIK, name and phone; identity reads are audited; erasure is final."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.client_case.db import clients, identity_reads, known_units
from services.client_case.settings import Settings as ClientCaseSettings
from shared.contracts import client_case as events
from shared.messaging.broker import topic_size
from shared.security.encryption import CannotDecrypt, WrappedKey, decrypt_fields
from tests.auth import bearer
from tests.bus import read_events, read_topic
from tests.integration.conftest import HIGH_RISK, OPERATOR_74, Platform, form_unit
from tests.privacy import NAME, NIK, PHONE, SENSITIVE


async def test_a_clients_journey_keeps_their_identity_off_the_bus_and_out_of_the_logs(
    platform: Platform, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    p = platform
    unit_id = await form_unit(p)
    agent = bearer(f"unit-agent:{unit_id}")

    registered = await p.cases.post(
        "/clients",
        headers=agent,
        json={
            "unit_id": unit_id,
            "identity": {"nik": NIK, "name": NAME, "phone": PHONE},
            "age_band": "25-29",
            "sex": "female",
        },
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    assert registered.json() == {"client_id": client_id, "new": True}
    again = await p.cases.post(
        "/clients",
        headers=agent,
        json={"unit_id": unit_id, "identity": {"nik": "7471 0115 0495 0001"}},
    )
    assert again.json() == {"client_id": client_id, "new": False}  # the unit's own client
    bad_nik = await p.cases.post(
        "/clients",
        headers=agent,
        json={"unit_id": unit_id, "identity": {"nik": "7471011513950001"}},
    )
    assert bad_nik.status_code == 422
    assert bad_nik.json()["errors"][0] == {
        "field": "identity.nik",
        "rule": "nik-birth-date",
        "message": "digits 7 to 12 are not a birth date",
    }

    other_agent = bearer("unit-agent:some-other-unit-0001")
    screening = {
        "client_id": client_id,
        "unit_id": unit_id,
        "programme": "sil",
        "screened_at": datetime.now(UTC).isoformat(),
        "screener_agent_id": "agent-000000000001",
        "substances": HIGH_RISK,
        "injection": "never",
    }
    assert (
        await p.cases.post("/screenings", headers=other_agent, json=screening)
    ).status_code == 403
    screened = await p.cases.post("/screenings", headers=agent, json=screening)
    assert screened.status_code == 201, screened.text
    result = screened.json()
    case_id = result["case_id"]
    assert (result["overall_level"], result["overall_level_id"]) == ("high", "berat")
    assert result["scores"]["alcohol"] == {"score": 32, "level": "high"}
    assert result["scores"]["cannabis"] == {"score": 3, "level": "low"}
    assert result["refer_to"] == "balai_rehabilitasi"

    today = datetime.now(UTC).date().isoformat()
    steps = [
        (f"/cases/{case_id}/enrolment", {"admission_route": "voluntary", "enrolled_on": today}),
        (f"/cases/{case_id}/stage", {"to_stage": "services", "changed_on": today}),
        (
            f"/cases/{case_id}/referrals",
            {
                "destination_type": "balai_rehabilitasi",
                "destination_facility": "BALAI-BADOKA",
                "reason": "high_risk",
                "referred_on": today,
                "referred_by_agent_id": "agent-000000000001",
            },
        ),
    ]
    for url, body in steps:
        response = await p.cases.post(url, headers=agent, json=body)
        assert response.status_code in (200, 201), (url, response.text)
    referral_id = response.json()["referral_id"]
    overdue = await p.cases.get("/referrals/overdue", headers=OPERATOR_74)
    assert overdue.json() == []  # referred today: not overdue yet
    resolved = await p.cases.post(
        f"/referrals/{referral_id}/resolution",
        headers=agent,
        json={"resolution": "attended", "resolved_on": today},
    )
    assert resolved.status_code == 200, resolved.text
    closed = await p.cases.post(
        f"/cases/{case_id}/closure",
        headers=agent,
        json={"outcome": "referred_out", "closed_on": today, "referral_id": referral_id},
    )
    assert closed.status_code == 200 and closed.json()["stage"] == "closed"

    # Operators above the unit see the case, never the identity.
    seen = await p.cases.get("/cases", headers=OPERATOR_74)
    assert [c["case_id"] for c in seen.json()] == [case_id]
    assert not {"name", "nik", "phone"} & set(seen.json()[0])
    assert (
        await p.cases.get(
            f"/clients/{client_id}/identity",
            headers=OPERATOR_74,
            params={"reason": "follow-up visit"},
        )
    ).status_code == 403
    assert (await p.cases.get("/cases", headers=bearer("reporting-consumer"))).status_code == 403
    elsewhere = await p.cases.get("/cases", headers=bearer("province-operator:73"))
    assert elsewhere.json() == []

    # The unit's agent reads the identity with a reason, and the read is audited.
    assert (await p.cases.get(f"/clients/{client_id}/identity", headers=agent)).status_code == 422
    identity = await p.cases.get(
        f"/clients/{client_id}/identity", headers=agent, params={"reason": "home visit for week 3"}
    )
    assert identity.json() == {"nik": NIK, "name": NAME, "phone": PHONE}
    engine = p.case_runtime.engine
    assert engine is not None
    async with engine.connect() as connection:
        audit = (
            (await connection.execute(select(identity_reads).order_by(identity_reads.c.id)))
            .mappings()
            .all()
        )
    assert [(a["client_id"], a["reason"], a["granted"]) for a in audit] == [
        (client_id, "follow-up visit", False),  # the operator's refused read
        (client_id, "home visit for week 3", True),
    ]
    assert [(a["actor"], a["unit_id"]) for a in audit] == [  # the tokens' subjects
        ("tester", None),
        ("tester", unit_id),
    ]

    # The canonical events, in order, carry the pseudonym only.
    topic = p.topics.name(events.TOPIC)
    published = await read_events(p.bootstrap, topic, 6)
    assert [type(e.data).__name__ for e in published] == [
        "ClientScreened",
        "ClientEnrolled",
        "CaseStageChanged",
        "ClientReferred",
        "ReferralResolved",
        "CaseClosed",
    ]
    assert len({e.data.client_ref for e in published}) == 1  # type: ignore[attr-defined]
    assert {e.subject for e in published} == {case_id}
    first = published[0].data
    assert isinstance(first, events.ClientScreened)
    assert first.rule_set_version == "assist-3.1/2026.1" and first.overall_level == "high"
    assert (first.injecting, first.injected_past_3_months) == (False, False)

    # Erasure (a national operator, or `pulih client-case erase`) is final.
    erased = await p.cases.post(
        f"/clients/{client_id}/erasure", headers=bearer("national-operator")
    )
    assert erased.status_code == 200
    gone = await p.cases.get(
        f"/clients/{client_id}/identity", headers=agent, params={"reason": "home visit for week 4"}
    )
    assert gone.status_code == 410
    settings = p.case_runtime.settings
    assert isinstance(settings, ClientCaseSettings)
    async with engine.connect() as connection:
        row = (
            (await connection.execute(select(clients).where(clients.c.client_id == client_id)))
            .mappings()
            .one()
        )
        refused = (
            await connection.execute(
                select(identity_reads.c.granted).where(
                    identity_reads.c.reason == "home visit for week 4"
                )
            )
        ).scalar_one()
    assert row["wrapped_data_key"] is None and row["identity_sealed"] is not None
    assert refused is False
    for key in settings.key_ring.masters.values():  # no key the service holds opens it
        with pytest.raises(CannotDecrypt):
            decrypt_fields(key, row["identity_sealed"], subject=client_id)
    with pytest.raises(CannotDecrypt):
        settings.key_ring.unwrap(WrappedKey("dev1", b"\x00" * 60))

    # Every byte on every topic of this platform, and every log line: no identity.
    everything = bytearray()
    for name in (events.TOPIC, "ibm.registry", "ibm.client-case.dlq", "ibm.registry.dlq"):
        size = await topic_size(p.bootstrap, p.topics.name(name))
        for record in await read_topic(
            p.bootstrap, p.topics.name(name), until=lambda r, n=size: len(r) >= n
        ):
            everything += (record.key or b"") + (record.value or b"")
            for header_name, value in record.headers:
                everything += header_name.encode() + value
    assert len(everything) > 1000  # the scan really read the events
    logs = caplog.text
    for secret in SENSITIVE:
        assert secret.encode() not in everything, f"{secret!r} on the bus"
        assert secret not in logs, f"{secret!r} in the logs"


async def test_the_erase_command_destroys_the_data_key(database_url: str) -> None:
    """`pulih client-case erase <client-id>`, as an operator runs it against the database."""
    import os

    from typer.testing import CliRunner

    from services.client_case.db import MIGRATIONS
    from services.client_case.handlers import Identity, Keys
    from services.client_case.handlers.identity import handle_register_client
    from shared.cli import app
    from shared.migrations import upgrade
    from shared.persistence import create_engine, session_factory

    await asyncio.to_thread(upgrade, MIGRATIONS, database_url, "client-case")
    engine = create_engine(database_url)
    settings = ClientCaseSettings(database_url=database_url)
    async with engine.begin() as connection:
        await connection.execute(
            known_units.insert().values(
                unit_id="unit-0000000000000001",
                province_code="74",
                village_code="74.71.01.1005",
                status="active",
            )
        )
    async with session_factory(engine).begin() as session:
        registered = await handle_register_client(
            session,
            Keys(settings.key_ring, settings.pseudonym_key_bytes),
            unit_id="unit-0000000000000001",
            identity=Identity(nik=NIK, name=NAME),
            age_band=None,
            sex=None,
            today=datetime.now(UTC).date(),
        )
    client_id = registered.client_id

    env = {**os.environ, "PULIH_DATABASE_URL": database_url}
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["client-case", "erase", client_id], env=env
    )
    assert result.exit_code == 0, result.output
    assert (
        result.output.strip() == f"client {client_id}: erased; 0 open case(s) closed as withdrawn"
    )
    missing = await asyncio.to_thread(
        CliRunner().invoke, app, ["client-case", "erase", "no-such-client"], env=env
    )
    assert missing.exit_code == 1 and "no client no-such-client" in missing.output
    async with engine.connect() as connection:
        row = (
            (await connection.execute(select(clients).where(clients.c.client_id == client_id)))
            .mappings()
            .one()
        )
    await engine.dispose()
    assert row["wrapped_data_key"] is None and row["erased_at"] is not None
