"""Nothing lost, nothing counted twice, every message answered once, while services die.

The five services run as their own processes (as `pulih run`, compose and Kubernetes run
them) on the real broker; a province's programme is published through its real inbound path
by the simulator, with duplicates and broken messages among it; meanwhile each service in turn
is SIGKILLed mid-stream and started again. At the end every message has exactly one answer
(the simulator waits for each and counts them), every indicator's figure for the province
(and its regencies', where never withheld) equals the simulator's exact one for what it sent
(`shared/simulation/expected.py`), no consumer group is behind and no dead letter was
written. One line per fault says how long the service took to come back.

`make test` runs a small programme; `make resilience` a larger one
(PULIH_RESILIENCE_CLIENTS, PULIH_RESILIENCE_UNITS)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from shared.cli.common import PORT_OFFSETS
from shared.contracts.platform import EventAccepted, EventRejected
from shared.infra._process import free_port, read_pid
from shared.infra.kafka import KafkaBroker
from shared.infra.postgres import PostgresCluster
from shared.messaging.broker import Topics, topic_size
from shared.persistence import create_engine
from shared.simulation import check
from shared.simulation.expected import Value
from shared.simulation.programme import generate
from shared.simulation.province import Platform, Province
from shared.simulation.publish import caught_up, publish
from tests.auth import bearer
from tests.bus import read_to_end
from tests.processes import Services, free_port_base

ROOT = Path(__file__).resolve().parents[2]
UNITS = int(os.environ.get("PULIH_RESILIENCE_UNITS", "6"))
CLIENTS = int(os.environ.get("PULIH_RESILIENCE_CLIENTS", "60"))
KILL_ORDER = ("client-case", "scheduling", "reporting", "registry", "gateway")


async def _chaos(
    services: Services, lines: list[str], strike: Callable[[], None], every: float
) -> None:
    """Each service in turn, `every` seconds apart: SIGKILL mid-stream and start again; a
    line says how long each took to be ready again."""

    async def back(name: str) -> None:
        lines.append(f"{name:12} SIGKILL, ready again after {await services.ready(name):.1f}s")

    comebacks = []
    for name in KILL_ORDER:
        await asyncio.sleep(every)
        strike()
        services.kill(name)
        services.start(name)
        comebacks.append(asyncio.create_task(back(name)))
    await asyncio.gather(*comebacks)


async def test_services_killed_mid_stream_lose_and_double_nothing(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    async def kill_each(services: Services, lines: list[str], strike: Callable[[], None]) -> None:
        await _chaos(services, lines, strike, every=0.7)

    lines = await _published_through(kill_each, kafka_bootstrap, topics, tmp_path)
    assert len(lines) == len(KILL_ORDER)  # every service was killed once, mid-stream


async def test_the_broker_stopped_mid_stream_loses_and_doubles_nothing(
    infra_dir: Path, topics: Topics, tmp_path: Path
) -> None:
    """A broker of its own, stopped (SIGKILL, no clean shutdown) while the province publishes
    and the services work, and started again on the same data."""
    broker = KafkaBroker(infra_dir / f"kafka-{topics.prefix}", free_port(), free_port())
    await asyncio.to_thread(broker.start, die_with_parent=True)

    async def stop_the_broker(
        _services: Services, lines: list[str], strike: Callable[[], None]
    ) -> None:
        await asyncio.sleep(0.5)  # the province has begun: it is still on its registry facts
        strike()
        pid = read_pid(broker.pid_file)
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        broker.pid_file.unlink(missing_ok=True)
        await asyncio.sleep(3)
        started = time.monotonic()
        await asyncio.to_thread(broker.start, die_with_parent=True)
        lines.append(f"{'kafka':12} SIGKILL, ready again after {time.monotonic() - started:.1f}s")

    try:
        lines = await _published_through(
            stop_the_broker, broker.bootstrap_servers, topics, tmp_path
        )
    finally:
        await asyncio.to_thread(broker.stop)
    assert len(lines) == 1


async def test_postgresql_stopped_mid_stream_loses_and_doubles_nothing(
    infra_dir: Path, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    """The services on PostgreSQL (a cluster of the test's own, a database each); the cluster
    is SIGKILLed while they work and started again on its data. Its commits are durable, as in
    production: a test cluster's are not (a crash may take the last moment's commits back,
    after the services saw them done)."""
    cluster = PostgresCluster(infra_dir / f"postgres-{topics.prefix}", free_port(), durable=True)
    await asyncio.to_thread(cluster.start, die_with_parent=True)
    databases = {}
    admin = create_engine(cluster.url(), isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        for name in ("registry", "client-case", "scheduling", "reporting"):
            database = name.replace("-", "_")
            await connection.execute(text(f'CREATE DATABASE "{database}"'))
            databases[name] = cluster.url(database)
    await admin.dispose()

    async def stop_the_database(
        _services: Services, lines: list[str], strike: Callable[[], None]
    ) -> None:
        await asyncio.sleep(0.5)  # the province has begun: it is still on its registry facts
        strike()
        pid = read_pid(cluster.pid_file)
        assert pid is not None
        os.killpg(pid, signal.SIGKILL)
        cluster.pid_file.unlink(missing_ok=True)
        (cluster.pgdata / "postmaster.pid").unlink(missing_ok=True)
        await asyncio.sleep(3)
        started = time.monotonic()
        await asyncio.to_thread(cluster.start, die_with_parent=True)
        lines.append(
            f"{'postgresql':12} SIGKILL, ready again after {time.monotonic() - started:.1f}s"
        )

    try:
        lines = await _published_through(
            stop_the_database, kafka_bootstrap, topics, tmp_path, databases
        )
    finally:
        await asyncio.to_thread(cluster.stop)
    assert len(lines) == 1


Chaos = Callable[[Services, list[str], Callable[[], None]], Coroutine[Any, Any, None]]
"""Does its worst to the platform, noting each line; calls the third argument at each fault."""


async def _published_through(
    chaos_of: Chaos,
    kafka_bootstrap: str,
    topics: Topics,
    tmp_path: Path,
    databases: dict[str, str] | None = None,
) -> list[str]:
    """The programme published while `chaos_of` does its worst; the checks every fault must
    pass. Returns the fault lines."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PULIH_STATE_DIR": str(tmp_path),
        "PULIH_HTTP_PORT_BASE": str(free_port_base()),
        "PULIH_TOPIC_PREFIX": topics.prefix,
        "PULIH_INBOUND_PROVINCES": "74",
    }
    services = Services(env, tmp_path, databases)
    lines: list[str] = []
    try:
        for name in PORT_OFFSETS:
            services.start(name)
        for name in PORT_OFFSETS:
            await services.ready(name)
        province = Province(
            Platform(kafka_bootstrap, services.url("gateway"), topics), "74", 11, lambda _: None
        )
        async with httpx.AsyncClient(base_url=services.url("gateway"), timeout=30) as http:
            villages = await province.villages(http, UNITS)
            programme = generate(
                province="74", villages=villages, units=UNITS, clients=CLIENTS, seed=11
            )
            started = time.monotonic()
            publishing = asyncio.create_task(publish(programme, province, http, faults=0.03))
            struck: list[bool] = []  # for each fault: was the province still publishing?
            chaos = asyncio.create_task(
                chaos_of(services, lines, lambda: struck.append(not publishing.done()))
            )
            outcome = await publishing
            await chaos
            assert struck and all(struck), f"a fault struck after the stream: {struck}"
            published_in = time.monotonic() - started
            groups = ("registry", "client-case", "scheduling", "reporting")
            await caught_up(kafka_bootstrap, topics, groups)  # no partition stalled

            # Every indicator's exact figure for what the province sent (the sessions it
            # recorded included), for the province and, where never withheld, its regencies.
            expected = check.compared(programme.totals.figures, "74")
            years = check.years_of(expected)
            indicators = "/api/reporting/indicators"
            reader = bearer("reporting-consumer")
            figures: dict[str, Value] = {}
            with contextlib.suppress(TimeoutError):  # what still differs is reported below
                async with asyncio.timeout(120):
                    while (  # noqa: ASYNC110 - the figures are in another process
                        figures := await check.shown(http, indicators, "74", years, reader)
                    ) != expected:
                        await asyncio.sleep(0.5)
    finally:
        services.stop_all()
    dead_letters = {
        group: await topic_size(kafka_bootstrap, topics.dead_letter(group))
        for group in ("registry", "client-case", "scheduling", "reporting")
    }
    sent = sum(outcome.accepted.values()) + sum(outcome.duplicates.values())
    sent += sum(outcome.rejected_messages.values())
    receipts = await _receipts(kafka_bootstrap, topics.name("ibm.receipts.74"))
    lost, counted_twice = check.lost_and_doubled(expected, figures, "74")
    differ = check.differences(expected, figures)
    repeated = {k: v for k, v in receipts.items() if len(v) > 1 + (k in outcome.resent)}
    unanswered = [i for i in province.sent_at if i not in receipts]
    print(f"\nresilience: {sent} messages answered in {published_in:.0f}s under faults")
    for line in lines:
        print(f"  {line}")
    print(
        f"  {sent} messages, {sum(outcome.faults.values())} faults sent on purpose "
        f"({', '.join(f'{n} {kind}' for kind, n in sorted(outcome.faults.items()))}); "
        f"{len(expected)} figures compared ({len(differ)} differ: counts lost {lost}, "
        f"counted twice {counted_twice}); receipts repeated "
        f"{len(repeated)}, unanswered {len(unanswered)}; dead letters "
        f"{sum(dead_letters.values())}"
    )
    refused = "" if outcome.answered_as_expected() else f"\nwhat was answered:\n{outcome.summary()}"
    assert not differ, "figures differing from the simulator's:\n" + "\n".join(differ) + refused
    assert outcome.answered_as_expected(), outcome.summary()
    assert not repeated, repeated  # one answer per message (two for a resent id), no more
    assert not unanswered, unanswered
    assert sum(len(v) for v in receipts.values()) == sent
    assert dead_letters == dict.fromkeys(dead_letters, 0), dead_letters
    return lines


async def _receipts(bootstrap: str, topic: str) -> dict[str, list[str]]:
    """Every receipt on the topic, by the id it answers: what each said."""
    answers: dict[str, list[str]] = {}
    for event in await read_to_end(bootstrap, topic):
        receipt = event.data
        assert isinstance(receipt, EventAccepted | EventRejected)
        said = (
            "rejected"
            if isinstance(receipt, EventRejected)
            else ("duplicate" if receipt.duplicate else "accepted")
        )
        answers.setdefault(receipt.original_event_id, []).append(said)
    return answers
