"""A unit's month of real use through scheduling's API and the real broker, on both databases:
missed sessions stay on the agent's worklist until attended, moved or closed; the calendar shows
the day a session was held and the case's agent; the unit's agent re-plans a case; a province's
wrongly dated facts are refused like an agent's; a dissolved unit's open cases are listed for
transfer and a transfer takes their sessions to the receiving unit's agent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from services.scheduling.app import SPEC as SCHEDULING
from services.scheduling.db import agents, cases, sessions
from services.scheduling.settings import Settings
from shared.contracts import client_case, registry
from shared.contracts import scheduling as events
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.contracts.platform import EventRejected
from shared.contracts.scheduling_inbound import ActivitySubmitted, AttendanceSubmitted
from shared.contracts.types import ActivityType
from shared.messaging.broker import Topics, ensure_topics, make_producer
from shared.regions import local_today
from shared.runtime import Runtime, create_app
from tests.auth import bearer
from tests.bus import read_events
from tests.eventually import eventually
from tests.unit.contracts.examples import from_examples

JAKARTA = {"unit_id": "unit-jakarta-00001", "province_code": "31", "village_code": "31.71.01.1001"}
BOGOR = {"unit_id": "unit-bogor-000001", "province_code": "32", "village_code": "32.71.01.1001"}
AGENT_A, AGENT_B, AGENT_BOGOR = "agent-jakarta-0000a", "agent-jakarta-0000b", "agent-bogor-00001"
CASE = "case-jakarta-000001"
AGENT = bearer(f"unit-agent:{JAKARTA['unit_id']}")
OPERATOR = bearer("province-operator:31")


@pytest.fixture
async def scheduling(
    database_url: str, kafka_bootstrap: str, topics: Topics
) -> AsyncIterator[Runtime]:
    # Jakarta's inbound topic exists before the service subscribes to the provinces' pattern.
    await ensure_topics(kafka_bootstrap, [topics.name("ibm.inbound.31")])
    runtime = Runtime(
        SCHEDULING,
        Settings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=topics.prefix,
            relay_idle_seconds=0.05,
            inbound_provinces="31",  # Jakarta's topics exist before the subscription starts
        ),
    )
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


class Bus:
    def __init__(self, bootstrap: str, topics: Topics) -> None:
        self.bootstrap, self.topics = bootstrap, topics

    async def send(self, topic: str, *facts: EventData, ids: list[str] | None = None) -> None:
        producer = make_producer(self.bootstrap, client_id="test-publisher")
        await producer.start()
        try:
            for n, data in enumerate(facts):
                key, headers, value = to_kafka(
                    wrap(data, source="/test", event_id=ids[n] if ids else None)
                )
                await producer.send_and_wait(
                    self.topics.name(topic), value=value, key=key, headers=headers
                )
        finally:
            await producer.stop()


async def test_a_units_month_through_the_api_and_the_bus(
    scheduling: Runtime, kafka_bootstrap: str, topics: Topics
) -> None:
    engine = scheduling.engine
    assert engine is not None
    bus = Bus(kafka_bootstrap, topics)
    today = local_today(datetime.now(UTC), "31")
    screened = today - timedelta(days=30)  # weeks 2 and 3 a week past due, week 4 overdue
    formed = today - timedelta(days=400)
    await bus.send(
        registry.TOPIC,
        *(
            from_examples(registry.UnitFormed, **where, formed_on=formed)
            for where in (JAKARTA, BOGOR)
        ),
        *(
            from_examples(registry.RecoveryAgentAppointed, **JAKARTA, agent_id=a)
            for a in (AGENT_A, AGENT_B)
        ),
        from_examples(registry.RecoveryAgentAppointed, **BOGOR, agent_id=AGENT_BOGOR),
    )

    async def rows(query: Any) -> list[Any]:
        async with engine.connect() as connection:
            return list((await connection.execute(query)).mappings().all())

    async def team_known() -> bool:
        return len(await rows(select(agents))) == 3

    await eventually(team_known)
    await bus.send(
        client_case.TOPIC,
        from_examples(
            client_case.ClientScreened,
            **JAKARTA,
            case_id=CASE,
            screened_at=datetime.combine(screened, time(3), tzinfo=UTC),
        ),
        from_examples(
            client_case.ClientEnrolled,
            **JAKARTA,
            case_id=CASE,
            enrolled_on=screened,
            admission_route="voluntary",
            risk_level="low",
            aftercare_source=None,
        ),
    )

    async def plan() -> dict[int, dict[str, Any]]:
        found = await rows(select(sessions).where(sessions.c.case_id == CASE))
        return {r["week"]: dict(r) for r in found}

    async def planned() -> bool:
        return len(await plan()) > 0

    await eventually(planned)
    weeks = await plan()
    (primary,) = {s["agent_id"] for s in weeks.values()}
    ids = {w: s["session_id"] for w, s in weeks.items()}

    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    async with http:

        async def worklist() -> dict[str, list[dict[str, Any]]]:
            got = await http.get("/worklist", headers=AGENT, params={"agent_id": primary})
            assert got.status_code == 200, got.text
            return dict(got.json())

        # Missed sessions stay on the worklist until someone deals with them.
        listed = await worklist()
        assert [i["week"] for i in listed["missed"]] == [2, 3]
        assert [i["week"] for i in listed["overdue"]] == [4]
        assert {i["primary_agent_id"] for v in listed.values() for i in v} == {primary}

        body = {"agent_id": primary}
        closed = await http.post(f"/sessions/{ids[2]}/close", headers=AGENT, json=body)
        assert closed.status_code == 200, closed.text
        again = await http.post(f"/sessions/{ids[2]}/close", headers=AGENT, json=body)
        assert again.status_code == 422 and again.json()["errors"][0]["rule"] == "not-closed"
        moved = await http.post(
            f"/sessions/{ids[3]}/reschedule",
            headers=AGENT,
            json={
                "due_on": (today + timedelta(days=1)).isoformat(),
                "reason": "client_request",
                "agent_id": primary,
            },
        )
        assert moved.status_code == 200 and moved.json()["state"] == "due", moved.text
        listed = await worklist()
        assert listed["missed"] == []
        assert 3 in [i["week"] for i in listed["due"]]

        # Attendance: not before the case was opened; the calendar shows the day it was held.
        url = f"/sessions/{ids[4]}/attendance"
        early = {"held_on": (screened - timedelta(days=1)).isoformat(), "agent_id": primary}
        refused = await http.post(url, headers=AGENT, json=early)
        assert refused.status_code == 422
        assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
            ("held_on", "after-case-opened")
        ]
        held_on = today - timedelta(days=2)
        attended = await http.post(
            url, headers=AGENT, json={"held_on": held_on.isoformat(), "agent_id": primary}
        )
        assert attended.status_code == 200, attended.text
        window = {"from": screened.isoformat(), "to": (screened + timedelta(days=60)).isoformat()}
        shown = await http.get(
            f"/units/{JAKARTA['unit_id']}/calendar", headers=AGENT, params=window
        )
        assert shown.status_code == 200, shown.text
        by_id = {s["session_id"]: s for d in shown.json()["days"] for s in d["sessions"]}
        assert by_id[ids[4]]["held_on"] == held_on.isoformat()
        assert by_id[ids[4]]["primary_agent_id"] == primary
        assert by_id[ids[2]]["closed_on"] == today.isoformat()

        # The unit's agent re-plans the case from next week: order and spacing kept.
        replan_url = f"/cases/{CASE}/replan"
        start = today + timedelta(days=7)
        body = {"starts_on": start.isoformat(), "agent_id": primary, "reason": "client_request"}
        outsider = bearer("unit-agent:unit-elsewhere-0001")
        assert (await http.post(replan_url, headers=outsider, json=body)).status_code == 404
        past = await http.post(replan_url, headers=AGENT, json={**body, "starts_on": "2020-01-06"})
        assert past.status_code == 422 and past.json()["errors"][0]["rule"] == "not-in-past"
        replanned = await http.post(replan_url, headers=AGENT, json=body)
        assert replanned.status_code == 200, replanned.text
        new = {s["week"]: s for s in replanned.json()["sessions"]}
        assert sorted(new) == [3, *range(5, 13), 14, 16]
        assert new[3]["due_on"] == (start + timedelta(days=6)).isoformat()
        gaps_before = [(weeks[w]["due_on"] - weeks[5]["due_on"]).days for w in (5, 6, 14, 16)]
        first = date.fromisoformat(new[5]["due_on"])
        gaps_after = [(date.fromisoformat(new[w]["due_on"]) - first).days for w in (5, 6, 14, 16)]
        assert gaps_after == gaps_before
        assert {s["agent_id"] for s in new.values()} == {primary}

    published = await read_events(kafka_bootstrap, topics.name(events.TOPIC), 1 + 2 + len(new))
    assert sum(isinstance(e.data, events.SessionRescheduled) for e in published) == 1 + len(new)

    # A province's facts meet the same rules as an agent's, and each gets its answer.
    where = {**JAKARTA}
    await bus.send(
        "ibm.inbound.31",
        AttendanceSubmitted(
            **where,
            session_id=ids[5],
            held_on=screened - timedelta(days=3),
            agent_id=primary,
        ),
        ActivitySubmitted(
            **where,
            submission_id="jakarta-activity-000001",
            activity_type=ActivityType.AWARENESS,
            held_on=formed - timedelta(days=1),
            agent_ids=[primary],
            participants=20,
        ),
        ids=["attendance-before-the-case", "activity-before-the-unit"],
    )
    receipts = {
        e.data.original_event_id: e.data  # type: ignore[union-attr]
        for e in await read_events(kafka_bootstrap, topics.name("ibm.receipts.31"), 2)
    }
    refusals = {
        k: [(r.field, r.rule) for r in v.reasons]
        for k, v in receipts.items()
        if isinstance(v, EventRejected)
    }
    assert refusals == {
        "attendance-before-the-case": [("held_on", "after-case-opened")],
        "activity-before-the-unit": [("held_on", "after-unit-formed")],
    }

    # The unit is dissolved: what is ahead waits on hold, and the operators see what to move.
    await bus.send(
        registry.TOPIC,
        from_examples(
            registry.UnitStatusChanged,
            **JAKARTA,
            from_status="active",
            to_status="dissolved",
            reason="village_decision",
            effective_on=today,
        ),
    )

    async def on_hold() -> bool:
        return {s["state"] for w, s in (await plan()).items() if w >= 5} == {"on_hold"}

    await eventually(on_hold)
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    async with http:
        transfer_url = f"/units/{JAKARTA['unit_id']}/cases-needing-transfer"
        stranger = bearer("province-operator:74")
        assert (await http.get(transfer_url, headers=stranger)).status_code == 403
        listed_cases = await http.get(transfer_url, headers=OPERATOR)
        assert listed_cases.status_code == 200, listed_cases.text
        answer = listed_cases.json()
        assert (answer["status"], answer["status_on"]) == ("dissolved", today.isoformat())
        (case,) = answer["cases"]
        assert (case["case_id"], case["primary_agent_id"]) == (CASE, primary)
        assert case["sessions_on_hold"] == len(new)  # everything the re-plan put ahead
        stopped = await http.post(replan_url, headers=AGENT, json=body)
        assert [e["rule"] for e in stopped.json()["errors"]] == ["unit-active"]
        # Nothing on hold is the agent's to do while the unit waits for the transfer.
        paused = (await http.get("/worklist", headers=AGENT, params={"agent_id": primary})).json()
        assert paused == {"missed": [], "overdue": [], "due": [], "upcoming": [], "on_hold": []}

    # Client-case moves the case to Bogor: its sessions follow, with Bogor's agent.
    await bus.send(
        client_case.TOPIC,
        from_examples(
            client_case.CaseTransferred,
            **BOGOR,
            case_id=CASE,
            from_unit_id=JAKARTA["unit_id"],
            from_province_code="31",
            transferred_on=today,
        ),
    )

    async def followed() -> bool:
        ahead = [s for s in (await plan()).values() if s["state"] in ("planned", "due")]
        return bool(ahead) and {s["agent_id"] for s in ahead} == {AGENT_BOGOR}

    await eventually(followed)
    (moved_case,) = await rows(select(cases).where(cases.c.case_id == CASE))
    assert (moved_case["unit_id"], moved_case["primary_agent_id"]) == (
        BOGOR["unit_id"],
        AGENT_BOGOR,
    )
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(scheduling)), base_url="http://scheduling"
    )
    async with http:
        left = await http.get(transfer_url, headers=OPERATOR)
        assert left.json()["cases"] == []
