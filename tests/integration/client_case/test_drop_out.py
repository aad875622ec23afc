"""Scheduling reports a client missing sessions in a row; client-case applies its drop-out
policy: `flag` marks the case for the unit (cleared when the client comes back), `close` closes
it as dropped out. Real services, real broker, both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from services.client_case.settings import Settings
from shared.contracts import client_case as events
from shared.contracts import scheduling
from tests.auth import bearer
from tests.bus import read_events
from tests.eventually import eventually
from tests.integration.conftest import HIGH_RISK, Platform, form_unit
from tests.reporting_events import publish
from tests.unit.contracts.examples import from_examples


async def _screened_case(p: Platform, unit_id: str) -> dict[str, Any]:
    agent = bearer(f"unit-agent:{unit_id}")
    client_id = (await p.cases.post("/clients", headers=agent, json={"unit_id": unit_id})).json()[
        "client_id"
    ]
    screened = await p.cases.post(
        "/screenings",
        headers=agent,
        json={
            "client_id": client_id,
            "unit_id": unit_id,
            "screened_at": datetime.now(UTC).isoformat(),
            "screener_agent_id": "agent-00000000042",
            "substances": HIGH_RISK,
            "injection": "never",
        },
    )
    assert screened.status_code == 201, screened.text
    return dict(screened.json())


async def test_a_case_at_risk_is_flagged_or_closed_by_policy(platform: Platform) -> None:
    p = platform
    unit_id = await form_unit(p)
    agent = bearer(f"unit-agent:{unit_id}")
    flagged_case, closed_case = [(await _screened_case(p, unit_id))["case_id"] for _ in range(2)]
    village = (await p.cases.get("/cases", headers=agent, params={"unit_id": unit_id})).json()[0][
        "village_code"
    ]
    where = {"unit_id": unit_id, "province_code": "74", "village_code": village}

    def at_risk(case_id: str) -> scheduling.CaseAtRiskOfDropOut:
        return scheduling.CaseAtRiskOfDropOut.model_validate(
            {
                **where,
                "case_id": case_id,
                "plan_id": f"plan-{case_id}",
                "client_ref": "9f2c4e7a1b3d5f6087a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f",
                "consecutive_misses": 3,
                "last_missed_session_id": f"session-{case_id}",
                "flagged_on": date.today(),
            }
        )

    async def listed(**params: object) -> set[str]:
        found = await p.cases.get("/cases", headers=agent, params={"unit_id": unit_id, **params})
        return {c["case_id"] for c in found.json()}

    # Policy `flag` (the default): the case shows among the unit's cases at risk.
    await publish(p.bootstrap, p.topics, [at_risk(flagged_case)])

    async def flagged() -> bool:
        return await listed(at_risk="true") == {flagged_case}

    await eventually(flagged)

    # The client comes back: the flag goes.
    await publish(
        p.bootstrap,
        p.topics,
        [from_examples(scheduling.SessionCompleted, **where, case_id=flagged_case)],
    )

    async def unflagged() -> bool:
        return await listed(at_risk="true") == set()

    await eventually(unflagged)

    # Policy `close`: the case is closed as dropped out, and says so on the bus.
    settings = p.case_runtime.settings
    assert isinstance(settings, Settings)
    settings.drop_out_policy = "close"
    await publish(p.bootstrap, p.topics, [at_risk(closed_case)])
    published = await read_events(p.bootstrap, p.topics.name(events.TOPIC), 3)
    (closure,) = [e.data for e in published if isinstance(e.data, events.CaseClosed)]
    assert (closure.case_id, closure.outcome) == (closed_case, "dropped_out")
