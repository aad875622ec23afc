"""What a unit's month of real use exposed, through the HTTP API on the real broker:

- registering a NIK another unit holds must not tell who the person is, nor hand over the
  other unit's client (no shared id, no `new: false`, no identity, no parallel case);
- every identity read and every refusal is audited with the caller and unit, and a national
  operator can list the audit;
- erasure erases: the NIK resolves to nothing, every unit's record is unreadable, open cases
  are closed as withdrawn, nothing more is accepted for the erased client, and the person can
  come back as a new client.
"""

from __future__ import annotations

import asyncio
from asyncio import sleep, timeout
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from services.client_case.db import cases, clients, people
from shared.contracts import client_case as events
from tests.auth import bearer
from tests.bus import read_events
from tests.integration.conftest import (
    HIGH_RISK,
    OPERATOR_74,
    Platform,
    appoint_agent,
    form_unit,
)
from tests.privacy import NAME, NIK, NIK_SPACED, PHONE

NATIONAL = bearer("national-operator")


def _screening(client_id: str, unit_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "unit_id": unit_id,
        "screened_at": datetime.now(UTC).isoformat(),
        "screener_agent_id": "agent-00000000001",
        "substances": HIGH_RISK,
        "injection": "never",
        **changes,
    }


async def test_a_nik_held_by_another_unit_discloses_nothing(platform: Platform) -> None:
    p = platform
    kendari, elsewhere = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    ours = bearer(f"unit-agent:{kendari}")
    theirs = bearer(f"unit-agent:{elsewhere}", subject="agent-elsewhere")
    first = (
        await p.cases.post(
            "/clients",
            headers=ours,
            json={"unit_id": kendari, "identity": {"nik": NIK, "name": NAME, "phone": PHONE}},
        )
    ).json()
    case_id = (
        await p.cases.post(
            "/screenings", headers=ours, json=_screening(first["client_id"], kendari)
        )
    ).json()["case_id"]

    # Another unit registering the same NIK learns nothing: a client of its own, "new".
    probe = await p.cases.post(
        "/clients",
        headers=theirs,
        json={"unit_id": elsewhere, "identity": {"nik": NIK_SPACED, "name": "Nama Lain"}},
    )
    assert probe.status_code == 201, probe.text
    assert probe.json()["new"] is True and probe.json()["client_id"] != first["client_id"]
    assert set(probe.json()) == {"client_id", "new"}

    # It can neither read nor screen the first unit's client: as if unknown.
    read = f"/clients/{first['client_id']}/identity"
    assert (
        await p.cases.get(read, headers=theirs, params={"reason": "checking a rumour"})
    ).status_code == 404
    assert (
        await p.cases.post(
            "/screenings",
            headers=theirs,
            json=_screening(first["client_id"], elsewhere),
        )
    ).status_code == 404
    # Its own client holds only what it was told itself.
    own = await p.cases.get(
        f"/clients/{probe.json()['client_id']}/identity",
        headers=theirs,
        params={"reason": "first home visit"},
    )
    assert own.json() == {"nik": NIK, "name": "Nama Lain"}
    # The first unit's record is untouched, and its case is the only one there.
    mine = await p.cases.get(read, headers=ours, params={"reason": "home visit week 1"})
    assert mine.json() == {"nik": NIK, "name": NAME, "phone": PHONE}
    listed = (await p.cases.get("/cases", headers=theirs, params={"unit_id": kendari})).json()
    assert listed == []
    assert [c["case_id"] for c in (await p.cases.get("/cases", headers=ours)).json()] == [case_id]
    assert "client_ref" not in (await p.cases.get("/cases", headers=ours)).json()[0]

    # Every read and refusal is in the audit, with caller and unit; national operators only.
    assert (await p.cases.get("/identity-reads", headers=ours)).status_code == 403
    audit = (
        await p.cases.get(
            "/identity-reads", headers=NATIONAL, params={"client_id": first["client_id"]}
        )
    ).json()
    assert [(a["unit_id"], a["reason"], a["granted"]) for a in audit] == [
        (kendari, "home visit week 1", True),
        (elsewhere, "checking a rumour", False),
    ]
    assert audit[1]["actor"] == "agent-elsewhere"  # the token's subject


async def test_erasure_erases_the_person_in_every_unit(platform: Platform) -> None:
    p = platform
    kendari, elsewhere = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    ours = bearer(f"unit-agent:{kendari}")
    theirs = bearer(f"unit-agent:{elsewhere}")
    registered = {}
    case_of = {}
    for unit, agent in ((kendari, ours), (elsewhere, theirs)):
        client = await p.cases.post(
            "/clients", headers=agent, json={"unit_id": unit, "identity": {"nik": NIK}}
        )
        registered[unit] = client.json()["client_id"]
        screened = await p.cases.post(
            "/screenings", headers=agent, json=_screening(registered[unit], unit)
        )
        assert screened.status_code == 201, screened.text
        case_of[unit] = screened.json()["case_id"]
    # A second screening while the case is open re-screens it: one open case per person.
    again = await p.cases.post(
        "/screenings", headers=ours, json=_screening(registered[kendari], kendari)
    )
    assert again.json()["case_id"] == case_of[kendari]

    erased = await p.cases.post(f"/clients/{registered[kendari]}/erasure", headers=NATIONAL)
    assert erased.status_code == 200, erased.text
    assert sorted(erased.json()["cases_withdrawn"]) == sorted(case_of.values())

    # Both units' records are unreadable, and nothing more is accepted for them.
    for unit, agent in ((kendari, ours), (elsewhere, theirs)):
        gone = await p.cases.get(
            f"/clients/{registered[unit]}/identity", headers=agent, params={"reason": "visit"}
        )
        assert gone.status_code == 410
        case = (await p.cases.get("/cases", headers=agent)).json()
        assert [(c["stage"], c["outcome"]) for c in case] == [("closed", "withdrawn")]
        relapse = await p.cases.post(
            f"/cases/{case_of[unit]}/relapses",
            headers=agent,
            json={
                "substances": ["alcohol"],
                "source": "family_report",
                "relapsed_on": datetime.now(UTC).date().isoformat(),
                "reported_by_agent_id": "agent-00000000001",
            },
        )
        assert relapse.status_code == 410
        rescreened = await p.cases.post(
            "/screenings", headers=agent, json=_screening(registered[unit], unit)
        )
        assert rescreened.status_code == 410

    # The NIK resolves to nothing: the person comes back as a new client and a new person.
    back = await p.cases.post(
        "/clients", headers=ours, json={"unit_id": kendari, "identity": {"nik": NIK}}
    )
    assert back.status_code == 201
    assert back.json()["new"] is True and back.json()["client_id"] != registered[kendari]
    new_case = await p.cases.post(
        "/screenings", headers=ours, json=_screening(back.json()["client_id"], kendari)
    )
    assert new_case.status_code == 201 and new_case.json()["case_id"] != case_of[kendari]

    published = [e.data for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 6)]
    withdrawn = [e for e in published if isinstance(e, events.CaseClosed)]
    assert sorted(e.case_id for e in withdrawn) == sorted(case_of.values())
    assert {e.outcome for e in withdrawn} == {"withdrawn"}
    refs = {e.client_ref for e in published}  # type: ignore[union-attr]
    assert len(refs) == 2  # the erased person's, and the new person's: nothing joins them
    (came_back,) = [
        e for e in published if getattr(e, "case_id", None) == new_case.json()["case_id"]
    ]
    assert came_back.client_ref != withdrawn[0].client_ref  # type: ignore[union-attr]

    assert p.case_runtime.engine is not None
    async with p.case_runtime.engine.connect() as connection:
        old_ref = (
            await connection.execute(
                select(clients.c.client_ref).where(clients.c.client_id == registered[kendari])
            )
        ).scalar_one()
        assert (
            await connection.execute(
                select(func.count()).select_from(people).where(people.c.client_ref == old_ref)
            )
        ).scalar_one() == 0
        keys = (
            await connection.execute(
                select(clients.c.wrapped_data_key).where(clients.c.client_ref == old_ref)
            )
        ).scalars()
        assert list(keys) == [None, None]
        assert (
            await connection.execute(
                select(func.count())
                .select_from(cases)
                .where(cases.c.client_ref == old_ref, cases.c.stage != "closed")
            )
        ).scalar_one() == 0


async def test_the_unit_updates_what_it_holds_by_registering_again(platform: Platform) -> None:
    p = platform
    unit = await form_unit(p)
    agent = bearer(f"unit-agent:{unit}")
    first = await p.cases.post(
        "/clients",
        headers=agent,
        json={"unit_id": unit, "identity": {"nik": NIK, "name": NAME, "phone": PHONE}},
    )
    again = await p.cases.post(
        "/clients",
        headers=agent,
        json={"unit_id": unit, "identity": {"nik": NIK, "phone": "081298765432"}},
    )
    assert again.json() == {"client_id": first.json()["client_id"], "new": False}
    held = await p.cases.get(
        f"/clients/{first.json()['client_id']}/identity",
        headers=agent,
        params={"reason": "calling the new number"},
    )
    assert held.json() == {"nik": NIK, "name": NAME, "phone": "081298765432"}


async def test_screeners_referrers_and_reporters_are_agents_of_the_unit(
    platform: Platform,
) -> None:
    p = platform
    ours, theirs = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    agent = bearer(f"unit-agent:{ours}")
    stranger = await appoint_agent(p, theirs)
    own = await appoint_agent(p, ours)
    client_id = (await p.cases.post("/clients", headers=agent, json={"unit_id": ours})).json()[
        "client_id"
    ]
    refused = await p.cases.post(
        "/screenings", headers=agent, json=_screening(client_id, ours, screener_agent_id=stranger)
    )
    assert refused.status_code == 422
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("screener_agent_id", "agent-of-unit")
    ]
    screened = await p.cases.post(
        "/screenings", headers=agent, json=_screening(client_id, ours, screener_agent_id=own)
    )
    assert screened.status_code == 201, screened.text
    case_id = screened.json()["case_id"]
    today = datetime.now(UTC).date().isoformat()
    referral = {
        "destination_type": "balai_rehabilitasi",
        "reason": "high_risk",
        "referred_on": today,
        "referred_by_agent_id": stranger,
    }
    refused = await p.cases.post(f"/cases/{case_id}/referrals", headers=agent, json=referral)
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("referred_by_agent_id", "agent-of-unit")
    ]
    relapse = {
        "substances": ["alcohol"],
        "source": "family_report",
        "relapsed_on": today,
        "reported_by_agent_id": stranger,
    }
    refused = await p.cases.post(f"/cases/{case_id}/relapses", headers=agent, json=relapse)
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("reported_by_agent_id", "agent-of-unit")
    ]
    # An agent who stopped serving screens no more.
    gone = await p.registry.post(
        f"/agents/{own}/deactivation",
        headers=OPERATOR_74,
        json={"deactivated_on": "2026-02-01", "reason": "moved_away"},
    )
    assert gone.status_code == 200, gone.text
    async with timeout(30):
        while True:
            again = await p.cases.post(
                f"/cases/{case_id}/relapses",
                headers=agent,
                json={**relapse, "reported_by_agent_id": own},
            )
            if again.status_code == 422:
                break
            await sleep(0.05)
    assert [(e["field"], e["rule"]) for e in again.json()["errors"]] == [
        ("reported_by_agent_id", "agent-active")
    ]


async def test_injecting_in_the_past_3_months_flags_the_case_and_routes_it(
    platform: Platform,
) -> None:
    p = platform
    unit = await form_unit(p)
    agent = bearer(f"unit-agent:{unit}")
    client_id = (await p.cases.post("/clients", headers=agent, json={"unit_id": unit})).json()[
        "client_id"
    ]
    low_but_injecting: dict[str, object] = {s: {"ever_used": False} for s in HIGH_RISK}
    low_but_injecting["cannabis"] = {
        "ever_used": True,
        "frequency": "never",
        "concern": "never",
        "cut_down": "never",
    }
    screened = await p.cases.post(
        "/screenings",
        headers=agent,
        json=_screening(client_id, unit, substances=low_but_injecting, injection="past_3_months"),
    )
    assert screened.status_code == 201, screened.text
    body = screened.json()
    assert (body["overall_level"], body["injected_recently"]) == ("low", True)
    assert body["refer_to"] == "klinik_pratama"  # the default policy's injecting route
    (case,) = (await p.cases.get("/cases", headers=agent)).json()
    assert case["injecting_risk_on"] == datetime.now(UTC).date().isoformat()


async def test_agents_know_their_clients_by_the_units_label(platform: Platform) -> None:
    p = platform
    unit, other = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    agent = bearer(f"unit-agent:{unit}")
    stranger = bearer(f"unit-agent:{other}")
    client_id = (
        await p.cases.post(
            "/clients",
            headers=agent,
            json={"unit_id": unit, "identity": {"name": NAME, "label": "Pak W. RT 03"}},
        )
    ).json()["client_id"]
    case_id = (
        await p.cases.post("/screenings", headers=agent, json=_screening(client_id, unit))
    ).json()["case_id"]

    view = await p.cases.get(f"/cases/{case_id}", headers=agent)
    assert view.status_code == 200, view.text
    assert view.json()["label"] == "Pak W. RT 03"
    assert [s["overall_level"] for s in view.json()["screenings"]] == ["high"]
    assert view.json()["referrals"] == [] and NAME not in view.text
    above = await p.cases.get(f"/cases/{case_id}", headers=OPERATOR_74)
    assert above.status_code == 200 and above.json()["label"] is None
    assert (await p.cases.get(f"/cases/{case_id}", headers=stranger)).status_code == 404

    # Contact details are corrected with a reason, audited; the NIK is not changed this way.
    where = f"/clients/{client_id}/identity"
    changed = await p.cases.patch(
        where, headers=agent, params={"reason": "new phone number"}, json={"phone": PHONE}
    )
    assert changed.json() == {"client_id": client_id, "changed": ["phone"]}
    nik = await p.cases.patch(
        where, headers=agent, params={"reason": "a typo in the NIK"}, json={"nik": NIK}
    )
    assert [(e["field"], e["rule"]) for e in nik.json()["errors"]] == [
        ("identity.nik", "nik-fixed")
    ]
    assert (
        await p.cases.patch(
            where, headers=stranger, params={"reason": "new phone"}, json={"phone": "0811"}
        )
    ).status_code == 404
    held = await p.cases.get(where, headers=agent, params={"reason": "calling the client"})
    assert held.json() == {"name": NAME, "phone": PHONE, "label": "Pak W. RT 03"}
    audit = (
        await p.cases.get("/identity-reads", headers=NATIONAL, params={"client_id": client_id})
    ).json()
    assert [(a["action"], a["unit_id"], a["granted"]) for a in reversed(audit)] == [
        ("change", unit, True),
        ("change", other, False),
        ("read", unit, True),
    ]


async def test_two_units_registering_a_new_person_at_once_count_one_person(
    platform: Platform,
) -> None:
    p = platform
    first, second = await form_unit(p, "74.71.01"), await form_unit(p, "74.71.02")
    answers = await asyncio.gather(
        *(
            p.cases.post(
                "/clients",
                headers=bearer(f"unit-agent:{unit}"),
                json={"unit_id": unit, "identity": {"nik": NIK}},
            )
            for unit in (first, second)
        )
    )
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    assert p.case_runtime.engine is not None
    async with p.case_runtime.engine.connect() as connection:
        refs = (
            await connection.execute(
                select(clients.c.client_ref).where(
                    clients.c.client_id.in_([a.json()["client_id"] for a in answers])
                )
            )
        ).scalars()
        assert len(set(refs)) == 1  # one person, two units' records
