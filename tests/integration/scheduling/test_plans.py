"""An enrolment in client-case becomes a dated plan in scheduling, held by one of the unit's
agents; an agent who leaves hands over their cases; a closed case cancels what is left.
Three real services on the real broker."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from services.scheduling.app import SPEC as SCHEDULING
from services.scheduling.db import agents, cases, sessions
from services.scheduling.settings import Settings as SchedulingSettings
from shared.contracts import scheduling as events
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.contracts.platform import EventAccepted, EventRejected
from shared.contracts.scheduling_inbound import (
    ActivitySubmitted,
    AttendanceSubmitted,
    MissSubmitted,
)
from shared.contracts.types import ActivityType
from shared.messaging.broker import Topics, make_producer
from shared.runtime import Runtime, create_app
from tests.auth import bearer
from tests.bus import read_events
from tests.conftest import fresh_postgres_database
from tests.eventually import eventually
from tests.integration.conftest import (  # the running registry and client-case
    HIGH_RISK,
    OPERATOR_74,
    Platform,
    form_unit,
    province_sends,
    refusals,
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
                drop_out_after_misses=1,  # here one miss flags a case
            ),
        )
        await runtime.start()
        try:
            yield runtime
        finally:
            await runtime.stop()


async def _unit_with_agents(p: Platform, scheduling: Runtime, n: int) -> tuple[str, list[str]]:
    """A unit formed and `n` agents appointed in the registry, once scheduling knows them."""
    unit_id = await form_unit(p)
    appointed = []
    for number in range(1, n + 1):
        response = await p.registry.post(
            f"/units/{unit_id}/agents",
            headers=OPERATOR_74,
            json={
                "role": "member",
                "appointed_on": "2025-04-02",
                "decree": {
                    "number": f"1{number}/SK/2025",
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

    await eventually(team_known)
    return unit_id, appointed


async def _enrolled(
    p: Platform, unit_id: str, screener: str, days_ago: int = 0
) -> tuple[str, events.CasePlanCreated]:
    """A client screened and enrolled through client-case (today, or `days_ago`); the plan
    scheduling made."""
    when = datetime.now(UTC) - timedelta(days=days_ago)
    agent = bearer(f"unit-agent:{unit_id}")
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
                "screened_at": when.isoformat(),
                "screener_agent_id": screener,
                "substances": HIGH_RISK,
                "injection": "never",
            },
        )
    ).json()["case_id"]
    enrolled = await p.cases.post(
        f"/cases/{case_id}/enrolment",
        headers=agent,
        json={"admission_route": "voluntary", "enrolled_on": when.date().isoformat()},
    )
    assert enrolled.status_code == 200, enrolled.text
    (created,) = await read_events(p.bootstrap, p.topics.name(events.TOPIC), 1)
    assert isinstance(created.data, events.CasePlanCreated)
    return case_id, created.data


async def test_an_enrolment_becomes_an_assigned_plan_that_follows_the_team(
    platform: Platform, scheduling: Runtime
) -> None:
    p = platform
    unit_id, appointed = await _unit_with_agents(p, scheduling, 2)
    engine = scheduling.engine
    assert engine is not None
    agent = bearer(f"unit-agent:{unit_id}")
    case_id, plan = await _enrolled(p, unit_id, appointed[0])
    today = datetime.now(UTC).date().isoformat()
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

    # One agent, the case's primary agent, holds every session: the client meets one person.
    (primary,) = set(await assigned())
    (other,) = set(appointed) - {primary}

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
        assert holder == primary
        listed = await http.get("/worklist", headers=agent, params={"agent_id": primary})
        assert {item["primary_agent_id"] for item in listed.json()["upcoming"]} == {primary}
        outsider = bearer("unit-agent:another-unit-000001")
        body = {"held_on": today, "agent_id": holder, "duration_minutes": 45}
        url = f"/sessions/{intake.session_id}/attendance"
        assert (await http.post(url, headers=outsider, json=body)).status_code == 404
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
        outsider = bearer("unit-agent:another-unit-000001")
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

    # The primary agent leaves: the other agent takes over the whole case.
    left = await p.registry.post(
        f"/agents/{primary}/deactivation",
        headers=OPERATOR_74,
        json={"deactivated_on": today, "reason": "moved_away"},
    )
    assert left.status_code == 200, left.text

    async def handed_over() -> bool:
        return set(await assigned()) == {other}

    await eventually(handed_over)
    async with engine.connect() as connection:
        now_held_by = await connection.scalar(
            select(cases.c.primary_agent_id).where(cases.c.case_id == case_id)
        )
    assert now_held_by == other  # the calendar and worklist name the new primary agent

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

    await eventually(cancelled)


async def test_provinces_submit_attendance_and_activities_and_get_receipts(
    platform: Platform, scheduling: Runtime
) -> None:
    """A province reports attendance and an activity on its inbound topic; each gets a
    receipt, a repeat or an unknown session is refused with its reason, and the unit's
    calendar shows what happened, with a session an agent moved."""
    p = platform
    unit_id, (agent_id,) = await _unit_with_agents(p, scheduling, 1)
    case_id, plan = await _enrolled(p, unit_id, agent_id)
    unit = (await p.registry.get(f"/units/{unit_id}", headers=OPERATOR_74)).json()
    where = {"unit_id": unit_id, "province_code": "74", "village_code": unit["village_code"]}
    today = datetime.now(UTC).date()
    intake, second = plan.sessions[0], plan.sessions[1]
    attendance = AttendanceSubmitted(
        **where, session_id=intake.session_id, held_on=today, agent_id=agent_id
    )
    activity = ActivitySubmitted(
        **where,
        submission_id="sultra-activity-0000031",
        activity_type=ActivityType.MAPPING,
        held_on=today,
        agent_ids=[agent_id],
        participants=12,
    )
    facts: list[tuple[str, EventData]] = [
        ("a1", attendance),
        ("a1-again", attendance),  # the session is done now
        ("a-unknown", attendance.model_copy(update={"session_id": "no-such-session-0001"})),
        ("act1", activity),
        ("act1-again", activity),
    ]
    producer = make_producer(p.bootstrap, client_id="province-74")
    await producer.start()
    try:
        inbound = p.topics.name("ibm.inbound.74")
        for message_id, data in facts:
            key, headers, value = to_kafka(
                wrap(data, source="/provinces/74/simrehab", event_id=message_id)
            )
            await producer.send_and_wait(inbound, value=value, key=key, headers=headers)
        # An activity that breaks its contract is answered by scheduling too.
        await producer.send_and_wait(
            inbound, value=b'{"participants": -1}', key=key, headers=headers_with_id(headers)
        )
    finally:
        await producer.stop()

    receipts = {
        e.data.original_event_id: e.data  # type: ignore[union-attr]
        for e in await read_events(p.bootstrap, p.topics.name("ibm.receipts.74"), 6)
    }
    assert {k for k, v in receipts.items() if isinstance(v, EventAccepted)} == {"a1", "act1"}
    assert receipts["a1"].created == {"session_id": attendance.session_id}  # type: ignore[union-attr]
    act1 = receipts["act1"]
    assert isinstance(act1, EventAccepted) and act1.submission_id == "sultra-activity-0000031"
    assert set(act1.created) == {"activity_id"}
    refused = {
        k: [(r.field, r.rule) for r in v.reasons]
        for k, v in receipts.items()
        if isinstance(v, EventRejected)
    }
    assert refused["a1-again"] == [("session_id", "open-session")]
    assert refused["a-unknown"] == [("session_id", "exists")]  # named by its field
    assert refused["act1-again"] == [("submission_id", "unique-submission")]
    assert "participants" in {field for field, _ in refused["broken-activity"]}

    canonical = {
        type(e.data): e.data for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 3)
    }
    completed, held = canonical[events.SessionCompleted], canonical[events.ActivityHeld]
    assert isinstance(completed, events.SessionCompleted) and completed.case_id == case_id
    assert isinstance(held, events.ActivityHeld) and held.participants == 12

    # An agent moves the next session; the calendar shows it beside the activity.
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    agent = bearer(f"unit-agent:{unit_id}")
    new_day = second.due_on + timedelta(days=2)
    async with http:
        url = f"/sessions/{second.session_id}/reschedule"
        body = {"due_on": new_day.isoformat(), "reason": "public_holiday", "agent_id": agent_id}
        past = await http.post(url, headers=agent, json={**body, "due_on": "2020-01-01"})
        assert past.status_code == 422 and past.json()["errors"][0]["rule"] == "not-in-past"
        moved = await http.post(url, headers=agent, json=body)
        assert moved.status_code == 200, moved.text
        window = {"from": today.isoformat(), "to": (today + timedelta(days=30)).isoformat()}
        stranger = bearer("province-operator:31")
        calendar_url = f"/units/{unit_id}/calendar"
        assert (await http.get(calendar_url, headers=stranger, params=window)).status_code == 403
        shown = await http.get(calendar_url, headers=OPERATOR_74, params=window)
        assert shown.status_code == 200, shown.text
    days = {d["date"]: d for d in shown.json()["days"]}
    assert [a["participants"] for a in days[today.isoformat()]["activities"]] == [12]
    (rescheduled,) = [
        s for s in days[new_day.isoformat()]["sessions"] if s["session_id"] == second.session_id
    ]
    assert rescheduled["rescheduled_from"] == second.due_on.isoformat()
    assert rescheduled["reschedule_reason"] == "public_holiday"
    (done,) = [s for d in days.values() for s in d["sessions"] if s["state"] == "done"]
    assert done["session_id"] == intake.session_id
    published = await read_events(p.bootstrap, p.topics.name(events.TOPIC), 4)
    (moved_event,) = [e.data for e in published if isinstance(e.data, events.SessionRescheduled)]
    assert (moved_event.from_due_on, moved_event.to_due_on) == (second.due_on, new_day)


def headers_with_id(headers: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
    """The activity's headers under another message id."""
    return [(n, b"broken-activity" if n == "ce_id" else v) for n, v in headers]


async def test_a_province_reads_a_cases_plan_and_records_misses(
    platform: Platform, scheduling: Runtime
) -> None:
    """From the case id on its receipts, a province reads the case's sessions and names them
    in its misses: a miss is recorded once the session's week has begun, once, and flags the
    case (here after one miss); the plan is read only by those who may."""
    p = platform
    unit_id, (agent_id,) = await _unit_with_agents(p, scheduling, 1)
    case_id, plan = await _enrolled(p, unit_id, agent_id, days_ago=10)
    other_unit = await form_unit(p, "74.71.02")
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    async with http:
        url = f"/cases/{case_id}/sessions"
        statuses = {
            role: (await http.get(url, headers=bearer(role))).status_code
            for role in (
                "province-system:74",
                "province-system:73",
                f"unit-agent:{unit_id}",
                f"unit-agent:{other_unit}",
                "district-operator:74.71",
                "reporting-consumer",
            )
        }
        read = await http.get(url, headers=bearer("province-system:74"))
        unknown = await http.get(
            "/cases/no-such-case-000001/sessions", headers=bearer("province-system:74")
        )
    assert statuses == {
        "province-system:74": 200,
        "province-system:73": 404,
        f"unit-agent:{unit_id}": 200,
        f"unit-agent:{other_unit}": 404,
        "district-operator:74.71": 200,
        "reporting-consumer": 403,
    }
    assert unknown.status_code == 404
    sessions_read = read.json()["sessions"]
    assert [s["session_id"] for s in sessions_read] == [s.session_id for s in plan.sessions]
    assert read.json()["unit_id"] == unit_id
    week_2, week_3 = sessions_read[0], sessions_read[1]  # week 3's week begins next week

    unit = (await p.registry.get(f"/units/{unit_id}", headers=OPERATOR_74)).json()
    where = {"unit_id": unit_id, "province_code": "74", "village_code": unit["village_code"]}

    def miss(session: dict[str, object], **changes: object) -> MissSubmitted:
        fields = {
            **where,
            "session_id": session["session_id"],
            "reason": "client_unreachable",
            "agent_id": agent_id,
        }
        return MissSubmitted.model_validate({**fields, **changes})

    facts: list[tuple[str, EventData]] = [
        ("m3", miss(week_3)),  # its week has not begun
        ("m-other-unit", miss(week_2, unit_id=other_unit)),
        ("m2", miss(week_2, reason="client_absent")),
        ("m2-again", miss(week_2)),
    ]
    receipts = await province_sends(p, facts)
    assert refusals(receipts) == {
        "m3": [("session_id", "week-begun")],
        "m-other-unit": [("session_id", "session-of-unit")],
        "m2-again": [("session_id", "open-session")],
    }
    assert receipts["m2"].created == {"session_id": week_2["session_id"]}  # type: ignore[union-attr]
    published = [e.data for e in await read_events(p.bootstrap, p.topics.name(events.TOPIC), 3)]
    missed = [e for e in published if isinstance(e, events.SessionMissed)]
    assert [(m.session_id, m.reason) for m in missed] == [(week_2["session_id"], "client_absent")]
    (flag,) = [e for e in published if isinstance(e, events.CaseAtRiskOfDropOut)]
    assert (flag.case_id, flag.consecutive_misses) == (case_id, 1)
