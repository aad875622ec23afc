"""Provincial ingest end to end, beside the raw producer and `getmany` rates of the same broker.

    python -m tests.perf.bench_ingest [--units N] [--clients C]       (make bench)

One service: a province publishes registry facts on `ibm.inbound.74` with a plain Kafka
client — for each unit: `UnitFormed`, five `RecoveryAgentAppointed`, five
`RecoveryAgentTrained`, keyed by the unit so they stay in order — and the clock runs until
every receipt is back on `ibm.receipts.74`. The registry runs as `pulih serve registry`, its
own process, on PostgreSQL and on SQLite. A second stream where every fact breaks a rule (no
such village) is timed the same way. Baselines: the raw aiokafka producer sending the same
records, and raw `getmany` of the inbound topic, same broker, same run.

The platform: registry, client-case and scheduling each in its own process on SQLite, as
`make run` starts them, and a province's mixed facts phase by phase — units, agents and
trainings; screenings (identity sealed to client-case) and activities; enrolments; attendance
at the sessions of the plans scheduling made (their ids read from `CasePlanCreated`);
closures. Each phase waits for what the one before recorded to reach the other services. The
table says how many receipts were refusals: none should be.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from services.registry.regions import RegionSource
from shared.contracts import registry as events
from shared.contracts.base import EventData
from shared.contracts.envelope import to_kafka, wrap
from shared.contracts.types import AgentRole, TrainingKind, UnitFormation
from shared.infra._process import free_port
from shared.messaging.broker import (
    Topics,
    ensure_topics,
    make_consumer,
    make_producer,
    partitions_of,
)
from tests.auth import bearer
from tests.perf.bench_messaging import fresh_postgres, infrastructure, raw_consume, raw_produce
from tests.perf.results import record

PROVINCE = "74"
Record = tuple[bytes, list[tuple[str, bytes]], bytes]


def villages(province: str | None = None) -> list[str]:
    """The region tree's village codes: a province's, or every one."""
    source = RegionSource.installed()
    within = f"{province}." if province else ""
    with (source.data_dir / "villages.csv").open(newline="") as rows:
        return [r["code"] for r in csv.DictReader(rows) if r["code"].startswith(within)]


def unit_formed(unit_id: str, village: str, n: int, province: str = PROVINCE) -> events.UnitFormed:
    return events.UnitFormed(
        unit_id=unit_id,
        province_code=province,
        village_code=village,
        unit_name=f"Unit {n}",
        formed_on=date(2025, 3, 1),
        decree_number=f"{n}/SK/2025",
        decree_date=date(2025, 2, 20),
        formation=UnitFormation.BNN_TARGET,
        facilitating_office=f"BNNP-{province}",
    )


def broken_facts(count: int) -> list[Record]:
    """`UnitFormed` facts in villages that do not exist: every one is refused."""
    run = uuid.uuid4().hex[:8]
    records = []
    for n in range(count):
        fact = unit_formed(f"bench-{run}-unit-{n:06d}", f"74.71.01.9{n % 1000:03d}", n)
        _key, headers, value = to_kafka(wrap(fact, source="/provinces/74/bench"))
        records.append((fact.unit_id.encode(), headers, value))
    return records


def registry_facts(units: int, province: str = PROVINCE) -> list[Record]:
    """Each unit's facts in order under its key (a unit formed in each of the province's
    first `units` villages, 5 agents appointed and trained)."""
    codes = villages(province)
    if units > len(codes):
        raise SystemExit(f"province {province} has {len(codes)} villages; ask for fewer units")
    run = uuid.uuid4().hex[:8]
    records: list[Record] = []
    for n, village in enumerate(codes[:units]):
        unit_id = f"bench-{run}-unit-{n:06d}"
        facts: list[EventData] = [unit_formed(unit_id, village, n, province)]
        for a in range(5):
            agent_id = f"bench-{run}-agent-{n:06d}-{a}"
            facts.append(
                events.RecoveryAgentAppointed(
                    unit_id=unit_id,
                    province_code=province,
                    village_code=village,
                    agent_id=agent_id,
                    role=AgentRole.COORDINATOR if a == 0 else AgentRole.MEMBER,
                    appointed_on=date(2025, 3, 2),
                    decree_number=f"{n}-{a}/SK/2025",
                    decree_date=date(2025, 3, 1),
                )
            )
            facts.append(
                events.RecoveryAgentTrained(
                    unit_id=unit_id,
                    province_code=province,
                    village_code=village,
                    agent_id=agent_id,
                    training_id=f"bench-{run}-training-{n:06d}-{a}",
                    training_kind=TrainingKind.BASIC,
                    trainer_office=f"BNNP-{province}",
                    completed_on=date(2025, 4, 1),
                )
            )
        for i, fact in enumerate(facts):
            envelope = wrap(fact, source=f"/provinces/{province}/bench", event_id=f"{unit_id}-{i}")
            _key, headers, value = to_kafka(envelope)
            records.append((unit_id.encode(), headers, value))
    return records


class Service:
    """One service as `make run` starts it: its own process, `pulih serve <name>`."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        command = [sys.executable, "-m", "shared.cli", "serve", name]
        if profile := os.environ.get("PULIH_BENCH_PROFILE"):  # a folder for py-spy's profiles
            output = Path(profile) / f"{name}-{uuid.uuid4().hex[:6]}.txt"
            command = ["py-spy", "record", "--format", "raw", "-o", str(output), "--", *command]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **env, "PULIH_HTTP_PORT": str(self.port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def ready(self, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
                try:
                    answer = await client.get(f"http://127.0.0.1:{self.port}/health/ready")
                    if answer.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready in {seconds}s")

    @contextlib.asynccontextmanager
    async def health_watch(self) -> AsyncIterator[list[float]]:
        """Ask `/health/live` every 50 ms meanwhile; yields the answers' times in seconds."""
        times: list[float] = []

        async def ask() -> None:
            async with httpx.AsyncClient() as client:
                while True:
                    started = time.perf_counter()
                    await client.get(f"http://127.0.0.1:{self.port}/health/live")
                    times.append(time.perf_counter() - started)
                    await asyncio.sleep(0.05)

        task = asyncio.create_task(ask())
        try:
            yield times
        finally:
            task.cancel()

    def stop(self) -> None:
        if os.environ.get("PULIH_BENCH_PROFILE"):  # py-spy writes its profile on SIGINT
            self.process.send_signal(signal.SIGINT)
        else:
            self.process.terminate()
        self.process.wait(timeout=30)


async def publish_and_wait(
    bootstrap: str, topics: Topics, records: list[Record]
) -> tuple[float, int]:
    """Events/s from the first send until the last receipt is read, and how many receipts
    were rejections."""
    receipts = make_consumer(
        bootstrap, group_id=None, client_id="bench-province", max_poll_records=10_000
    )
    await receipts.start()
    # Only the answers to this stream: from the end of what the topic holds now.
    partitions = await partitions_of(bootstrap, topics.name(f"ibm.receipts.{PROVINCE}"))
    receipts.assign(partitions)
    await receipts.seek_to_end(*partitions)
    for partition in partitions:
        await receipts.position(partition)
    producer = make_producer(bootstrap, client_id="bench-province")
    await producer.start()
    try:
        started = time.perf_counter()
        inbound = topics.name(f"ibm.inbound.{PROVINCE}")
        sent = [await producer.send(inbound, value=v, key=k, headers=h) for k, h, v in records]
        await asyncio.gather(*sent)
        answered, rejected = 0, 0
        while answered < len(records):
            batches = await receipts.getmany(timeout_ms=1000)
            for batch in batches.values():
                answered += len(batch)
                refusals = [r for r in batch if b"EventRejected" in dict(r.headers)["ce_type"]]
                if refusals and not rejected:  # the first, to see why (no submitted values)
                    print(
                        "first refusal of the stream:",
                        json.loads(refusals[0].value)["reasons"],
                        file=sys.stderr,
                    )
                rejected += len(refusals)
        return len(records) / (time.perf_counter() - started), rejected
    finally:
        await producer.stop()
        await receipts.stop()


async def measure(label: str, database_url: str, bootstrap: str, units: int) -> list[Row]:
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    await ensure_topics(
        bootstrap, {topics.name(f"ibm.{k}.{PROVINCE}"): 3 for k in ("inbound", "receipts")}
    )
    with tempfile.TemporaryDirectory() as state:
        service = Service(
            "registry",
            {
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "PULIH_DATABASE_URL": database_url,
                "PULIH_TOPIC_PREFIX": topics.prefix,
                "PULIH_STATE_DIR": state,
                "PULIH_INBOUND_PROVINCES": PROVINCE,
                "PULIH_LOG_LEVEL": "WARNING",
            },
        )
        try:
            await service.ready()
            good = registry_facts(units)
            async with service.health_watch() as health:
                rate, refused = await publish_and_wait(bootstrap, topics, good)
                bad = broken_facts(len(good))
                bad_rate, bad_refused = await publish_and_wait(bootstrap, topics, bad)
            ms = sorted(t * 1000 for t in health)
            print(
                f"{label}: /health/live while ingesting ({len(ms)} asked): "
                f"p50 {ms[len(ms) // 2]:.0f} ms, p99 {ms[int(len(ms) * 0.99)]:.0f} ms, "
                f"max {ms[-1]:.0f} ms"
            )
        finally:
            service.stop()
    raw_topic = topics.name("raw")
    await ensure_topics(bootstrap, {raw_topic: 3})
    producer_rate = await raw_produce(bootstrap, raw_topic, good)
    inbound = topics.name(f"ibm.inbound.{PROVINCE}")
    consume_rate = await raw_consume(bootstrap, inbound, len(good) + len(bad))
    return [
        (f"{label}: registry facts", len(good), refused, rate, producer_rate, consume_rate),
        (
            f"{label}: rule-breaking facts",
            len(bad),
            bad_refused,
            bad_rate,
            producer_rate,
            consume_rate,
        ),
    ]


async def measure_replicas(database_url: str, bootstrap: str, units: int, replicas: int) -> Row:
    """The registry's facts with `replicas` processes of the registry in one consumer group
    (how a deployment scales: partitions shared, relays taking turns by an advisory lock)."""
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    await ensure_topics(
        bootstrap, {topics.name(f"ibm.{k}.{PROVINCE}"): 4 for k in ("inbound", "receipts")}
    )
    with tempfile.TemporaryDirectory() as state:
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PULIH_DATABASE_URL": database_url,
            "PULIH_TOPIC_PREFIX": topics.prefix,
            "PULIH_STATE_DIR": state,
            "PULIH_INBOUND_PROVINCES": PROVINCE,
            "PULIH_LOG_LEVEL": "WARNING",
        }
        services = [Service("registry", env)]
        try:
            await services[0].ready()  # the first one migrates and loads the regions
            services += [Service("registry", env) for _ in range(replicas - 1)]
            for service in services[1:]:
                await service.ready()
            await asyncio.sleep(5)  # the consumer group settles on its members
            good = registry_facts(units)
            rate, refused = await publish_and_wait(bootstrap, topics, good)
        finally:
            for service in services:
                service.stop()
    label = f"PostgreSQL: registry facts, {replicas} processes"
    return (label, len(good), refused, rate, 0.0, 0.0)


Row = tuple[str, int, int, float, float, float]
"""What was measured, events, how many were refused, events/s, and the two baselines/s."""


async def run(bootstrap: str, postgres_server: str, units: int, clients: int) -> None:
    rows = await measure("PostgreSQL", await fresh_postgres(postgres_server), bootstrap, units)
    with tempfile.TemporaryDirectory() as folder:
        rows += await measure(
            "SQLite", f"sqlite+aiosqlite:///{folder}/registry.db", bootstrap, units
        )
    rows.append(await measure_replicas(await fresh_postgres(postgres_server), bootstrap, units, 2))
    rows += await measure_platform(bootstrap, units // 4, clients)
    print("\nbaselines = raw aiokafka producer and getmany on the same broker, same run")
    print(
        f"{'path':44} {'events':>7} {'refused':>7} {'events/s':>9} "
        f"{'producer/s':>11} {'getmany/s':>10}"
    )
    for name, n, refused, rate, produced, consumed in rows:
        baselines = f"{produced:>11,.0f} {consumed:>10,.0f}" if produced else ""
        print(f"{name:44} {n:>7} {refused:>7} {rate:>9,.0f} {baselines}")
        record(
            "a",
            f"ingest end to end, {name} ({n:,} events, {refused:,} refused)",
            f"{rate:,.0f} events/s",
            f"raw producer {produced:,.0f}/s, raw `getmany` {consumed:,.0f}/s" if produced else "",
            "5,000/s a service on PostgreSQL; 2,000/s under `make run`",
        )


# --- the platform under `make run`: three write services, mixed types, SQLite -----------------

SCREENING = {
    "alcohol": {
        "ever_used": True,
        "frequency": "weekly",
        "urge": "monthly",
        "problems": "monthly",
        "failed_duties": "never",
        "concern": "past_3_months",
        "cut_down": "never",
    },
    "amphetamine_type_stimulants": {
        "ever_used": True,
        "frequency": "weekly",
        "urge": "weekly",
        "problems": "monthly",
        "failed_duties": "monthly",
        "concern": "past_3_months",
        "cut_down": "past_3_months",
    },
    **{
        substance: {"ever_used": False}
        for substance in (
            *("tobacco", "cannabis", "cocaine", "inhalants"),
            *("sedatives", "hallucinogens", "opioids", "other"),
        )
    },
}


def case_facts(
    unit_facts: list[Record], public_key: str, clients_per_unit: int
) -> tuple[list[Record], list[Record], list[Record]]:
    """Screenings (identity sealed to client-case) and activities; then enrolments; then
    closures, for the clients of every unit the registry facts formed."""
    from shared.contracts import client_case_inbound as cc
    from shared.contracts import scheduling_inbound as sc
    from shared.security.encryption import seal_identity

    units: dict[str, tuple[str, list[str]]] = {}
    for _key, headers, value in unit_facts:
        kind = dict(headers)["ce_type"].decode()
        body = json.loads(value)
        if kind.endswith("UnitFormed.v1"):
            units[body["unit_id"]] = (body["village_code"], [])
        elif kind.endswith("RecoveryAgentAppointed.v1"):
            units[body["unit_id"]][1].append(body["agent_id"])
    first: list[Record] = []
    enrolments: list[Record] = []
    closures: list[Record] = []
    now = datetime.now(UTC)
    for n, (unit_id, (village, agent_ids)) in enumerate(units.items()):
        where = {"unit_id": unit_id, "province_code": PROVINCE, "village_code": village}
        first.append(
            _record(
                sc.ActivitySubmitted(
                    **where,
                    submission_id=f"{unit_id}-activity",
                    activity_type="outreach",
                    held_on=date(2025, 5, 1),
                    agent_ids=agent_ids[:2],
                    participants=20,
                )
            )
        )
        for c in range(clients_per_unit):
            submission = f"{unit_id}-screening-{c}"
            born = f"{n % 28 + 1:02d}{n // 28 % 12 + 1:02d}{70 + n // 336 % 30:02d}"
            nik = f"747101{born}{c + 1:04d}"  # Kota Kendari, Mandonga; a birth date
            first.append(
                _record(
                    cc.ScreeningSubmitted.model_validate(
                        {
                            **where,
                            "submission_id": submission,
                            "identity_sealed": seal_identity(public_key, {"nik": nik}),
                            "programme": "sil",
                            "screened_at": now,
                            "screener_agent_id": agent_ids[0],
                            "substances": SCREENING,
                            "injection": "never",
                        }
                    )
                )
            )
            enrolments.append(
                _record(
                    cc.EnrolmentSubmitted(
                        **where,
                        submission_id=submission,
                        admission_route="voluntary",
                        enrolled_on=now.date(),
                    )
                )
            )
            closures.append(
                _record(
                    cc.ClosureSubmitted(
                        **where,
                        submission_id=submission,
                        outcome="completed",
                        closed_on=now.date(),
                        early_completion_reason="goals_met",  # completed in week 1 of 16
                    )
                )
            )
    return first, enrolments, closures


def _record(data: EventData) -> Record:
    _key, headers, value = to_kafka(wrap(data, source="/provinces/74/bench"))
    return (data.subject().encode(), headers, value)


async def attendance(
    bootstrap: str, topics: Topics, unit_facts: list[Record], plans: int, per_plan: int = 4
) -> list[Record]:
    """The first sessions of every plan that fall in this week attended, as a province learns
    their ids from `CasePlanCreated` on the canonical topic."""
    from shared.contracts import scheduling as sc
    from shared.contracts.envelope import from_kafka_lean
    from shared.contracts.scheduling_inbound import AttendanceSubmitted

    agent_of: dict[str, str] = {}
    for _key, headers, value in unit_facts:
        if dict(headers)["ce_type"].endswith(b"RecoveryAgentAppointed.v1"):
            body = json.loads(value)
            agent_of.setdefault(body["unit_id"], body["agent_id"])
    reader = make_consumer(
        bootstrap, topics.name("ibm.scheduling"), group_id=None, client_id="bench-province"
    )
    await reader.start()
    found: list[sc.CasePlanCreated] = []
    try:
        async with asyncio.timeout(300):
            while len(found) < plans:
                for batch in (await reader.getmany(timeout_ms=1000)).values():
                    for r in batch:
                        data = from_kafka_lean(r.headers, r.key, r.value).data
                        if isinstance(data, sc.CasePlanCreated):
                            found.append(data)
    finally:
        await reader.stop()
    today = datetime.now(UTC).date()
    return [
        _record(
            AttendanceSubmitted(
                unit_id=plan.unit_id,
                province_code=plan.province_code,
                village_code=plan.village_code,
                session_id=planned.session_id,
                held_on=today,
                agent_id=agent_of[plan.unit_id],
                duration_minutes=60,
            )
        )
        for plan in found
        # Attendance is recorded from 7 days before a session's week (the week ending on its
        # due day): so today, at the sessions due within 13 days.
        for planned in [p for p in plan.sessions if p.due_on <= today + timedelta(days=13)][
            :per_plan
        ]
    ]


async def caught_up(bootstrap: str, group: str, topic: str, seconds: float = 120) -> None:
    """Wait until a service's consumer group has read everything on a canonical topic."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    probe = make_consumer(bootstrap, group_id=None, client_id="bench-probe")
    await probe.start()
    try:
        partitions = await partitions_of(bootstrap, topic)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ends = await probe.end_offsets(partitions)
            done = await admin.list_consumer_group_offsets(group)
            if all((done[p].offset if p in done else 0) >= ends[p] for p in partitions):
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{group} did not catch up on {topic}")
    finally:
        await probe.stop()
        await admin.close()


async def measure_platform(bootstrap: str, units: int, clients_per_unit: int) -> list[Row]:
    """Registry, client-case and scheduling each in its own process on SQLite, as `make run`
    starts them; a province's year of mixed facts, phase by phase (each phase needs what the
    one before recorded to have reached the other services)."""
    topics = Topics(prefix=f"b{uuid.uuid4().hex[:8]}.")
    await ensure_topics(
        bootstrap, {topics.name(f"ibm.{k}.{PROVINCE}"): 3 for k in ("inbound", "receipts")}
    )
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as state:
        common = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "PULIH_TOPIC_PREFIX": topics.prefix,
            "PULIH_STATE_DIR": state,
            "PULIH_INBOUND_PROVINCES": PROVINCE,
            "PULIH_LOG_LEVEL": "WARNING",
        }
        services = [Service(name, common) for name in ("registry", "client-case", "scheduling")]
        try:
            for service in services:
                await service.ready()
            async with httpx.AsyncClient() as client:
                key = await client.get(
                    f"http://127.0.0.1:{services[1].port}/identity-key",
                    headers=bearer("province-operator:74"),
                )
            unit_facts = registry_facts(units)
            first, enrolments, closures = case_facts(
                unit_facts, key.json()["public_key"], clients_per_unit
            )
            phases = [("registry facts", unit_facts)]
            phases += [("screenings and activities", first), ("enrolments", enrolments)]
            phases += [("attendance", []), ("closures", closures)]
            total, refused_total, seconds = 0, 0, 0.0
            for name, records in phases:
                if name == "screenings and activities":  # client-case and scheduling know
                    for group in ("client-case", "scheduling"):  # the units and agents
                        await caught_up(bootstrap, group, topics.name("ibm.registry"))
                if name == "attendance":  # by the session ids of the plans scheduling made
                    records = await attendance(bootstrap, topics, unit_facts, len(enrolments))
                assert records, f"the {name} phase has nothing to publish"
                rate, refused = await publish_and_wait(bootstrap, topics, records)
                rows.append((f"make run, SQLite: {name}", len(records), refused, rate, 0.0, 0.0))
                total += len(records)
                refused_total += refused
                seconds += len(records) / rate
            rows.append(
                ("make run, SQLite: all phases", total, refused_total, total / seconds, 0.0, 0.0)
            )
        finally:
            for service in services:
                service.stop()
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=2000, help="units of 11 facts each")
    parser.add_argument("--clients", type=int, default=8, help="clients per unit, mixed run")
    arguments = parser.parse_args()
    with infrastructure() as (kafka, postgres):  # started outside the event loop
        asyncio.run(run(kafka, postgres, arguments.units, arguments.clients))
