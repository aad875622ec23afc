"""An enrolment in client-case becomes a dated plan in scheduling, assigned across the unit's
agents; an agent who leaves hands over their sessions; a closed case cancels what is left.
Three real services on the real broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from services.scheduling.app import SPEC as SCHEDULING
from services.scheduling.db import agents, sessions
from services.scheduling.settings import Settings as SchedulingSettings
from shared.contracts import scheduling as events
from shared.messaging.broker import Topics
from shared.runtime import Runtime, create_app
from tests.bus import read_events
from tests.conftest import fresh_postgres_database
from tests.integration.conftest import (  # the running registry and client-case
    HIGH_RISK,
    OPERATOR_74,
    Platform,
    form_unit,
)


@pytest.fixture
async def scheduling(
    request: pytest.FixtureRequest,
    platform: Platform,
    kafka_bootstrap: str,
    topics: Topics,
    tmp_path: Path,
) -> AsyncIterator[Runtime]:
    """Scheduling with a database of its own, of the kind this test run uses."""
    async with contextlib.AsyncExitStack() as stack:
        if request.node.callspec.params["database_url"] == "postgresql":
            url = await stack.enter_async_context(
                fresh_postgres_database(request.getfixturevalue("postgres_server_url"))
            )
        else:
            url = f"sqlite+aiosqlite:///{tmp_path / 'scheduling.db'}"
        runtime = Runtime(
            SCHEDULING,
            SchedulingSettings(
                database_url=url,
                kafka_bootstrap_servers=kafka_bootstrap,
                topic_prefix=topics.prefix,
                relay_idle_seconds=0.05,
            ),
        )
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 30) -> None:
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110 - the state is in another service's database
            await asyncio.sleep(0.05)


async def test_an_enrolment_becomes_an_assigned_plan_that_follows_the_team(
    platform: Platform, scheduling: Runtime
) -> None:
    p = platform
    unit_id = await form_unit(p)
    appointed = []
    for n in (1, 2):
        response = await p.registry.post(
            f"/units/{unit_id}/agents",
            headers=OPERATOR_74,
            json={
                "role": "member",
                "appointed_on": "2025-04-02",
                "decree": {
                    "number": f"1{n}/SK/2025",
                    "signed_on": "2025-04-01",
                    "signatory": "lurah",
                },
            },
        )
        assert response.status_code == 201, response.text
        appointed.append(response.json()["agent_id"])
    engine = scheduling.engine
    assert engine is not None

    async def team_known() -> bool:
        async with engine.connect() as connection:
            known = (await connection.execute(select(agents.c.agent_id))).scalars().all()
        return set(known) == set(appointed)

    await _until(team_known)

    agent = {"X-Pulih-Roles": f"unit-agent:{unit_id}"}
    client_id = (await p.cases.post("/clients", headers=agent, json={"unit_id": unit_id})).json()[
        "client_id"
    ]
    case_id = (
        await p.cases.post(
            "/screenings",
            headers=agent,
            json={
                "client_id": client_id,
                "unit_id": unit_id,
                "screened_at": datetime.now(UTC).isoformat(),
                "screener_agent_id": appointed[0],
                "substances": HIGH_RISK,
                "injection": "never",
            },
        )
    ).json()["case_id"]
    today = datetime.now(UTC).date().isoformat()
    assert (
        await p.cases.post(
            f"/cases/{case_id}/enrolment",
            headers=agent,
            json={"admission_route": "voluntary", "enrolled_on": today},
        )
    ).status_code == 200

    (created,) = await read_events(p.bootstrap, p.topics.name(events.TOPIC), 1)
    plan = created.data
    assert isinstance(plan, events.CasePlanCreated)
    assert plan.case_id == case_id and plan.unit_id == unit_id
    assert (plan.sessions[0].week, plan.sessions[-1].week) == (2, 16)
    assert plan.sessions[0].session_type == "intake"

    async def assigned() -> Counter[str]:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(sessions.c.agent_id, sessions.c.state).where(
                        sessions.c.case_id == case_id
                    )
                )
            ).all()
        return Counter(a for a, state in rows if state in ("planned", "due"))

    load = await assigned()
    assert set(load) == set(appointed) and abs(load[appointed[0]] - load[appointed[1]]) <= 1

    # The agent's worklist shows the intake coming up; attendance completes it.
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    async with http:
        intake = plan.sessions[0]
        upcoming = {}
        for a in appointed:
            listed = await http.get("/worklist", headers=agent, params={"agent_id": a})
            upcoming[a] = {item["session_id"] for item in listed.json()["upcoming"]}
        (holder,) = [a for a in appointed if intake.session_id in upcoming[a]]
        outsider = {"X-Pulih-Roles": "unit-agent:another-unit-000001"}
        body = {"held_on": today, "agent_id": holder, "duration_minutes": 45}
        url = f"/sessions/{intake.session_id}/attendance"
        assert (await http.post(url, headers=outsider, json=body)).status_code == 403
        future = await http.post(url, headers=agent, json={**body, "held_on": "2099-01-01"})
        assert future.status_code == 422 and future.json()["errors"][0]["rule"] == "not-in-future"
        done = await http.post(url, headers=agent, json=body)
        assert done.status_code == 200, done.text
    completed = (await read_events(p.bootstrap, p.topics.name(events.TOPIC), 2))[1].data
    assert isinstance(completed, events.SessionCompleted)
    assert (completed.session_id, completed.agent_id, completed.duration_minutes) == (
        intake.session_id,
        holder,
        45,
    )

    # The unit's community activities are recorded: they make it count as operational.
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    async with http:
        activity = {
            "unit_id": unit_id,
            "activity_type": "awareness",
            "held_on": today,
            "agent_ids": appointed,
            "participants": 40,
            "participants_female": 22,
        }
        outsider = {"X-Pulih-Roles": "unit-agent:another-unit-000001"}
        assert (await http.post("/activities", headers=outsider, json=activity)).status_code == 403
        too_many = await http.post(
            "/activities", headers=agent, json={**activity, "people_screened": 41}
        )
        assert too_many.status_code == 422
        assert too_many.json()["errors"][0]["field"] == "people_screened"
        held = await http.post("/activities", headers=agent, json=activity)
        assert held.status_code == 201, held.text
    published = await read_events(p.bootstrap, p.topics.name(events.TOPIC), 3)
    (activity_event,) = [e.data for e in published if isinstance(e.data, events.ActivityHeld)]
    assert activity_event.activity_id == held.json()["activity_id"]
    assert (activity_event.unit_id, activity_event.participants) == (unit_id, 40)

    # The first agent leaves: the second takes over all open sessions.
    left = await p.registry.post(
        f"/agents/{appointed[0]}/deactivation",
        headers=OPERATOR_74,
        json={"deactivated_on": today, "reason": "moved_away"},
    )
    assert left.status_code == 200, left.text

    async def handed_over() -> bool:
        return set(await assigned()) == {appointed[1]}

    await _until(handed_over)

    # The case closes: nothing is left to do.
    assert (
        await p.cases.post(
            f"/cases/{case_id}/closure",
            headers=agent,
            json={"outcome": "dropped_out", "closed_on": today},
        )
    ).status_code == 200

    async def cancelled() -> bool:
        async with engine.connect() as connection:
            states = set(
                (
                    await connection.execute(
                        select(sessions.c.state).where(sessions.c.case_id == case_id)
                    )
                ).scalars()
            )
        return states == {"cancelled", "done"}  # the attended intake stays done

    await _until(cancelled)
