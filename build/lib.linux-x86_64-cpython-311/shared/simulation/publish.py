"""Publish a generated programme the way a province's system does, and nothing else: facts on
its inbound topic, answers read from its receipts topic, a case's sessions read at the
gateway's `GET /plans/{case_id}` with the province system's token, villages from the registry's
API. In the order a province records them: the registry's facts; then screenings and each
case's later facts (in order, keyed by the screening); then attendance and misses of the
sessions scheduling planned; then closures.

Every message gets exactly one receipt; `Outcome` counts them and names each broken rule."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from aiokafka.errors import KafkaError

from shared.contracts.base import EventData
from shared.contracts.scheduling_inbound import AttendanceSubmitted, MissSubmitted
from shared.messaging.broker import Topics, make_consumer
from shared.simulation.courses import Case
from shared.simulation.outcome import Outcome
from shared.simulation.programme import Programme
from shared.simulation.province import Province, reconnecting

CAUGHT_UP_GROUPS = ("registry", "client-case", "scheduling")
PLAN_READERS = 16
"""Plans read at once (a province's system reads its cases' plans in parallel)."""
PLANS_HELD = 2_000
"""Plans held in memory at a time (a big province has a hundred thousand)."""


async def caught_up(
    bootstrap: str, topics: Topics, groups: Sequence[str], stalled: float = 300
) -> None:
    """Wait until each service's consumer group has taken in everything on the canonical
    topics (so an enrolment finds the agents it needs, a plan exists to read); TimeoutError
    if how far behind they are stands still for `stalled` seconds."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = make_consumer(bootstrap, group_id=None, client_id="sim-probe")
    await reconnecting(admin.start)
    await reconnecting(probe.start)
    try:
        loop, last = asyncio.get_running_loop(), None
        async with asyncio.timeout(stalled) as stall:
            while True:
                try:
                    behind = await _behind(admin, probe, topics, groups)
                except KafkaError:  # the broker is away for a moment
                    behind = 1
                if behind <= 0:
                    return
                if behind != last:  # records taken in (or still made): not stalled
                    last = behind
                    stall.reschedule(loop.time() + stalled)
                await asyncio.sleep(0.3)
    finally:
        await probe.stop()
        await admin.close()


async def _behind(admin: Any, probe: Any, topics: Topics, groups: Sequence[str]) -> int:
    """Records on the canonical topics the groups have not yet taken in."""
    behind = 0
    for group in groups:
        committed = await admin.list_consumer_group_offsets(group)
        canonical = [
            tp
            for tp in committed
            if tp.topic.startswith(topics.name("ibm."))
            and ".inbound." not in tp.topic
            and ".receipts." not in tp.topic
        ]
        ends = await probe.end_offsets(canonical) if canonical else {}
        behind += sum(ends[tp] - committed[tp].offset for tp in canonical)
    return behind


async def publish(
    programme: Programme,
    province: Province,
    http: httpx.AsyncClient,
    *,
    today: date | None = None,
    faults: float = 0.0,
) -> Outcome:
    today = today or datetime.now(UTC).date()
    say, bootstrap, topics = province.say, province.platform.bootstrap, province.platform.topics
    rnd = random.Random(province.seed)  # noqa: S311 - a reproducible simulation
    say(f"registry: {len(programme.registry)} facts (units, agents, trainings, funding)")
    await province.send(programme.registry)
    await caught_up(bootstrap, topics, CAUGHT_UP_GROUPS)
    facts = [fact for case in programme.cases for fact in case.facts]
    say(
        f"cases: {len(programme.cases)} screenings and {len(facts) - len(programme.cases)} later "
        f"facts; {len(programme.activities)} activities"
    )
    sent = await province.send([*facts, *programme.activities])
    await province.send_faults(rnd, sent, faults)
    message_of = {id(fact): message_id for message_id, fact in sent.items()}
    case_ids = {
        case.submission_id: created["case_id"]
        for case in programme.cases
        if (created := province.outcome.created.get(message_of[id(case.facts[0])]))
    }
    await caught_up(bootstrap, topics, CAUGHT_UP_GROUPS)
    worked = await _sessions(programme.cases, case_ids, province, http, today, rnd)
    say(f"sessions: {len(worked)} attended or missed")
    await province.send(worked)
    programme.attended = [w for w in worked if isinstance(w, AttendanceSubmitted)]
    endings = [c.ending for c in programme.cases if c.ending and c.submission_id in case_ids]
    say(f"closures and transfers: {len(endings)}")
    await province.send(endings)
    programme.totals.figures = programme.figures()  # with the sessions attended
    return province.outcome


async def _sessions(
    cases: Sequence[Case],
    case_ids: dict[str, str],
    province: Province,
    http: httpx.AsyncClient,
    today: date,
    rnd: random.Random,
) -> list[EventData]:
    """Each enrolled case's sessions that fell due: attended (most) or missed, by the case's
    own attendance; those a week past due that nobody recorded were already marked missed by
    scheduling, and may still be recorded as held late."""
    worked: list[EventData] = []
    enrolled = [
        (case, case_ids[case.submission_id])
        for case in cases
        if case.enrolled_on is not None and case.submission_id in case_ids
    ]
    for start in range(0, len(enrolled), PLANS_HELD):
        chunk = enrolled[start : start + PLANS_HELD]
        plans = await _plans(province, http, [case_id for _, case_id in chunk])
        worked += _worked(chunk, plans, province.code, today, rnd)
    return worked


def _worked(
    enrolled: Sequence[tuple[Case, str]],
    plans: Sequence[list[dict[str, Any]]],
    province: str,
    today: date,
    rnd: random.Random,
) -> list[EventData]:
    """The sessions of these cases' plans that were attended or missed."""
    worked: list[EventData] = []
    for (case, _), plan in zip(enrolled, plans, strict=True):
        until = min(case.closes_on or today, today)
        for session in plan:
            due = date.fromisoformat(session["due_on"])
            if (
                due > until + timedelta(days=6)
                or session["state"] in {"done", "cancelled"}
                or not session.get("agent_id")
            ):
                continue
            where = {
                "unit_id": case.unit,
                "province_code": province,
                "village_code": case.village,
                "session_id": session["session_id"],
            }
            if rnd.random() < case.attend_share:
                held = min(due - timedelta(days=rnd.randint(0, 3)), today)
                worked.append(
                    AttendanceSubmitted(
                        **where, held_on=held, agent_id=session["agent_id"], duration_minutes=45
                    )
                )
            elif (
                session["state"] in {"planned", "due", "overdue"}
                and due - timedelta(days=7) < today
            ):
                worked.append(
                    MissSubmitted(
                        **where,
                        reason=rnd.choice(["client_absent", "client_unreachable"]),
                        agent_id=session["agent_id"],
                    )
                )
    return worked


async def _plans(
    province: Province, http: httpx.AsyncClient, case_ids: Sequence[str]
) -> list[list[dict[str, Any]]]:
    """Each case's sessions, in the order of `case_ids`, read by `PLAN_READERS` readers."""
    plans: list[list[dict[str, Any]]] = [[] for _ in case_ids]
    waiting = iter(enumerate(case_ids))  # shared: each reader takes the next case

    async def reader() -> None:
        for n, case_id in waiting:
            plans[n] = await province.plan(http, case_id)

    await asyncio.gather(*(reader() for _ in range(PLAN_READERS)))
    return plans
