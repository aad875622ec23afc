"""The whole platform under a province's load: freshness, read latency and memory.

    python -m tests.perf.bench_platform [--units N] [--clients C] [--rate R]   (make bench)
    python -m tests.perf.bench_platform --freshness-only --background 1900     (make bench)

The five services run as their own processes on SQLite (as `make run` runs them) on a local
broker. The simulator publishes a province's programme through its inbound topic; meanwhile:

(c) freshness: the gateway's national figure of clients screened (over the two years the
    programme spans) is read every 50 ms; the k-th screening is fresh when the figure first
    reaches k, and its freshness is that moment minus when the k-th screening was published
    (p50, p99 over every k; one not counted 300 s after the programme's end is as late as
    that). With `--background R`, other provinces' registry facts (West, Central and East
    Java: a unit in each village, 5 agents appointed and trained) go to their inbound topics
    at R events/s meanwhile, so that the platform takes the goal's 2,000 events/s in all
    (the programme's own pace is set by its answers: the simulator waits for each phase's);
    the time until the last of them is answered is printed;
(d) read latency: afterwards, indicator and overview requests at `--rate` requests/s through
    the gateway, beside the same indicator requests to reporting directly (the baseline); the
    overview mix is measured once twenty dashboards have opened their overviews (5 s, whose
    figures are printed too), as the gateway keeps each caller's views;
(e) memory: each service's peak resident set (VmHWM) at the end.

With `--background`, the CPU seconds each process took from the programme's start to the
background's last answer are printed too (every service, the broker, this process: what
publishes and watches), and what they come to an event: on two cores that sets the most
events a second the platform can take here, whatever else is done.

Figures on this machine are in docs/benchmarks.md with the command; the read model here is a
province's, not the national one (10^5 units) the goal is stated for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from shared.cli.common import PORT_OFFSETS
from shared.infra._process import free_port
from shared.infra.kafka import KafkaBroker
from shared.messaging.broker import Topics, make_consumer, make_producer
from shared.regions import PROVINCE_CODES
from shared.simulation.outcome import Outcome
from shared.simulation.programme import Programme, generate
from shared.simulation.province import Platform, Province
from shared.simulation.publish import publish
from tests.auth import bearer
from tests.perf.bench_ingest import registry_facts, villages
from tests.perf.national import NATIONAL_INDICATORS, seed_national_read_model
from tests.perf.results import record
from tests.processes import Services, free_port_base

READER = bearer("reporting-consumer")
CALLERS = [bearer("national-operator", subject=f"operator-{n}") for n in range(20)]
"""The read load's callers: twenty dashboards, each its own token (overviews are kept per
caller, so one token would find nearly every view kept)."""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def freshness(
    http: httpx.AsyncClient, sent_at: list[float], published: asyncio.Event
) -> list[float]:
    """For each screening k (in publishing order, every province's), seconds from its
    publish until the gateway's national figure first counted k screenings. Read until the
    figure counts every screening published, or `CATCH_UP_SECONDS` after the last was: one
    still not counted then is as late as the reading's end (so a backlog shows in p99
    rather than leaving the figures)."""
    year = datetime.now(UTC).year
    # The programme screens people over the year to today: the figure of both years it spans
    # (this year's alone never counts those screened before 1 January).
    period = f"{year - 1}..{year}"
    seen: list[tuple[float, int]] = []
    deadline = None
    while True:
        answer = await http.get(
            "/api/reporting/indicators/clients_screened", params={"period": period}, headers=READER
        )
        if answer.status_code == 200:
            seen.append((time.monotonic(), answer.json()["within"]["value"] or 0))
        if published.is_set():
            deadline = deadline or time.monotonic() + CATCH_UP_SECONDS
            if (seen and seen[-1][1] >= len(sent_at)) or time.monotonic() > deadline:
                break
        await asyncio.sleep(0.05)
    lags = []
    ended = time.monotonic()
    for k, at in enumerate(sorted(sent_at), start=1):
        first = next((t for t, value in seen if value >= k), ended)
        lags.append(max(first - at, 0.0))
    return lags


CATCH_UP_SECONDS = 300.0


BACKGROUND_PROVINCES = ("32", "33", "35")
"""Other provinces' registry facts, sent beside the measured programme (`--background`):
West, Central and East Java, about 23,000 villages, a unit in each."""


async def background(
    bootstrap: str, topics: Topics, rate: float, stop: asyncio.Event
) -> tuple[int, float]:
    """Other provinces' registry facts (a unit, 5 agents appointed and trained, in each
    village) on their inbound topics at `rate` events/s until `stop`; returns how many were
    sent and over how many seconds."""
    producer = make_producer(bootstrap, client_id="bench-background")
    await producer.start()
    sent, started = 0, time.monotonic()
    try:
        for province in BACKGROUND_PROVINCES:
            inbound = topics.name(f"ibm.inbound.{province}")
            records = await asyncio.to_thread(registry_facts, len(villages(province)), province)
            for key, headers, value in records:
                if stop.is_set():
                    return sent, time.monotonic() - started
                await producer.send(inbound, value=value, key=key, headers=headers)
                sent += 1
                if sent % 50 == 0:  # a steady stream: 50 at a time, on time
                    await asyncio.sleep(max(0.0, started + sent / rate - time.monotonic()))
        raise SystemExit("the background ran out of villages: ask for a lower --background")
    finally:
        await producer.stop()


async def answered(bootstrap: str, topics: Topics, sent: int, since: float) -> float:
    """Wait until the background's every fact has its receipt; seconds from `since` (the
    programme's end)."""
    started = time.monotonic()
    receipts = make_consumer(
        bootstrap,
        *(topics.name(f"ibm.receipts.{p}") for p in BACKGROUND_PROVINCES),
        group_id=None,
        client_id="bench-background",
        max_poll_records=10_000,
    )
    await receipts.start()
    try:
        seen = 0
        while seen < sent:
            batches = await receipts.getmany(timeout_ms=1000)
            seen += sum(len(b) for b in batches.values())
            if time.monotonic() - started > CATCH_UP_SECONDS:
                raise SystemExit(f"{sent - seen} background facts unanswered after the catch-up")
        return time.monotonic() - since
    finally:
        await receipts.stop()


async def read_latency(
    http: httpx.AsyncClient,
    paths: list[str],
    rate: float,
    seconds: float,
    failed: list[int] | None = None,
    pending: list[float] | None = None,
) -> list[float]:
    """Requests at a steady `rate` per second for `seconds`, round-robin over `paths`, each
    path asked by the twenty callers in turn. An error answer raises, unless `failed` is
    given: then its status is kept there (and its time among the others). Tables answered
    before their suppression ran (`suppression.pending`) add when they were answered
    (`time.monotonic()`) to `pending`."""
    timings: list[float] = []

    async def one(path: str, caller: dict[str, str]) -> None:
        started = time.perf_counter()
        answer = await http.get(path, headers=caller)
        if failed is None:
            answer.raise_for_status()
        elif answer.is_error:
            failed.append(answer.status_code)
        timings.append(time.perf_counter() - started)
        if pending is not None and answer.is_success and _pending(answer):
            pending.append(time.monotonic())

    tasks = []
    begun = time.monotonic()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begun + n / rate - time.monotonic()))
        caller = CALLERS[n // len(paths) % len(CALLERS)]
        tasks.append(asyncio.create_task(one(paths[n % len(paths)], caller)))
    await asyncio.gather(*tasks)
    return timings


def _latency(seconds: list[float]) -> str:
    median, p99 = 1000 * statistics.median(seconds), 1000 * percentile(seconds, 0.99)
    return f"p50 {median:.1f} ms, p99 {p99:.1f} ms"


def _record_memory(memory: dict[str, float], during: str = "during (c) and (d)") -> None:
    figures = ", ".join(f"{name} {mb:.0f} MB" for name, mb in memory.items())
    record("e", f"peak RSS (VmHWM) of each service {during}", figures, "", "< 300 MB each")


def _pending(answer: httpx.Response) -> bool:
    return bool(answer.json().get("suppression", {}).get("pending"))


def _stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command's name: [0] is the state (field 3)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) a process and every process below it took so far."""
    below: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                below.setdefault(int(_stat(int(entry.name))[1]), []).append(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    total, pending = 0, [pid]
    while pending:
        process = pending.pop()
        try:
            fields = _stat(process)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        pending += below.get(process, [])
    return total / os.sysconf("SC_CLK_TCK")


def cpu_now(services: Services, broker: KafkaBroker) -> dict[str, float]:
    taken = {name: cpu_seconds(p.pid) for name, p in services.processes.items()}
    taken["Kafka broker"] = cpu_seconds(int(broker.pid_file.read_text()))
    own = resource.getrusage(resource.RUSAGE_SELF)
    taken["this bench"] = own.ru_utime + own.ru_stime
    return taken


def print_cpu(before: dict[str, float], after: dict[str, float], events: int, wall: float) -> None:
    spent = {name: after[name] - before[name] for name in after}
    total = sum(spent.values())
    print(
        f"CPU from the programme's start to the background's last answer ({wall:.0f} s, "
        f"{events:,} events): "
        + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in spent.items())
    )
    print(
        f"in all {total:.0f} CPU s, {total / wall:.2f} cores busy on average; "
        f"{total / events * 1000:.2f} ms an event: two cores take at most "
        f"{2 * events / total:,.0f} events/s of this mix"
    )


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(
    provinces: list[str],
    units: int,
    clients: int,
    rate: float,
    pace: float,
    national: bool,
    load: float = 0,
    reads: bool = True,
) -> None:
    root = Path(tempfile.mkdtemp(prefix="pulih-bench-", dir="/tmp"))
    broker = KafkaBroker(root / "kafka", free_port(), free_port())
    await asyncio.to_thread(broker.start, die_with_parent=True)
    topics = Topics()
    services = Services(
        {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "PULIH_STATE_DIR": str(root),
            "PULIH_HTTP_PORT_BASE": str(free_port_base()),
            "PULIH_INBOUND_PROVINCES": ",".join(
                [*provinces, *(BACKGROUND_PROVINCES if load else ())]
            ),
        },
        root,
    )
    try:
        for name in PORT_OFFSETS:
            services.start(name)
        for name in PORT_OFFSETS:
            await services.ready(name)
        gateway = services.url("gateway")
        # The load's own client is the gateway's (httpx over aiohttp's pool): httpcore's would
        # take a core's worth of the two this machine shares with what it measures.
        async with httpx.AsyncClient(
            base_url=gateway, timeout=30, transport=AiohttpTransport()
        ) as http:
            published = asyncio.Event()
            sent_at: list[float] = []
            watcher = asyncio.create_task(freshness(http, sent_at, published))
            cpu_before = cpu_now(services, broker)
            started = time.monotonic()
            platform = Platform(broker.bootstrap_servers, gateway, topics)
            others = (
                asyncio.create_task(background(broker.bootstrap_servers, topics, load, published))
                if load
                else None
            )
            outcomes = await asyncio.gather(
                *(
                    _publish_noting_screenings(
                        Province(platform, code, 7, print, rate=pace), http, units, clients, sent_at
                    )
                    for code in provinces
                )
            )
            ended = time.monotonic()
            published_in = ended - started
            published.set()
            background_sent = (await others)[0] if others is not None else 0
            lags = await watcher
            # The read load below measures a platform at rest, as before the background.
            drained = 0.0
            if load:
                drained = await answered(broker.bootstrap_servers, topics, background_sent, ended)
                cpu_after, cpu_wall = cpu_now(services, broker), time.monotonic() - started
            if reads:
                unit = next(iter(outcomes[0][0].cases)).unit
                year = str(datetime.now(UTC).year)
                within = provinces[0]
                paths = [
                    f"/api/reporting/indicators/clients_screened?period={year}&within={within}",
                    f"/api/reporting/indicators/units_formed?period={year}&within={within}",
                    f"/overview/regions/{within}?period={year}",
                    f"/overview/units/{unit}",
                ]
                indicators = await read_latency(http, paths[:2], rate, 10)
                # Dashboards open their overviews once, then keep them: the first of each
                # caller's is assembled while they wait, the later ones come from the
                # gateway's kept views.
                opening = await read_latency(http, paths, rate, 5)
                through = await read_latency(http, paths, rate, 10)
        if reads:
            async with httpx.AsyncClient(
                base_url=services.url("reporting"), timeout=30, transport=AiohttpTransport()
            ) as direct:
                baseline = await read_latency(
                    direct,
                    [p.removeprefix("/api/reporting") for p in paths[:2]],
                    rate,
                    10,
                )
        memory = {name: peak_rss_mb(p.pid) for name, p in services.processes.items()}
    finally:
        services.stop_all()
        if not national:
            await asyncio.to_thread(broker.stop)
    messages = sum(
        sum(o.accepted.values()) + sum(o.rejected_messages.values()) for _, o in outcomes
    )
    offered = (messages + background_sent) / published_in
    beside = (
        f", and {background_sent:,} other provinces' registry facts beside them at "
        f"{load:,.0f}/s: {offered:,.0f} events/s in all; the last of them answered "
        f"{drained:.0f} s after the programme's end"
        if load
        else ""
    )
    print(
        f"\nplatform: {len(provinces)} province(s) at once, {messages} messages in "
        f"{published_in:.1f}s ({messages / published_in:.0f}/s){beside}; "
        f"{len(lags)} screenings followed"
    )
    print(
        f"(c) freshness publish→figure  p50 {percentile(lags, 0.5):.2f}s  "
        f"p99 {percentile(lags, 0.99):.2f}s  max {max(lags, default=0):.2f}s  "
        "(goal p99 < 2 s at 2,000 events/s)"
    )
    record(
        "c",
        f"freshness, a screening's publish → the gateway's figure ({len(provinces)} "
        f"province(s), {messages:,} messages at {messages / published_in:,.0f}/s{beside})",
        f"p50 {percentile(lags, 0.5):.2f} s, p99 {percentile(lags, 0.99):.2f} s",
        "",
        "p99 < 2 s at 2,000 events/s",
    )
    if load:
        print_cpu(cpu_before, cpu_after, messages + background_sent, cpu_wall)
    if not reads:
        print("(e) peak RSS  " + "  ".join(f"{n} {mb:.0f} MB" for n, mb in memory.items()))
        _record_memory(memory, f"during (c) at {offered:,.0f} events/s")
        return
    print(
        f"(d) read latency at {rate:.0f}/s, a province's read model: indicators through the "
        f"gateway p50 {1000 * statistics.median(indicators):.1f} ms  p99 "
        f"{1000 * percentile(indicators, 0.99):.1f} ms; half of them overviews instead: p50 "
        f"{1000 * statistics.median(through):.1f} ms  p99 {1000 * percentile(through, 0.99):.1f}"
        f" ms (the 5 s before, as the twenty dashboards opened them: {_latency(opening)})"
        f"   reporting directly p50 {1000 * statistics.median(baseline):.1f} ms  p99 "
        f"{1000 * percentile(baseline, 0.99):.1f} ms  (goal p99 < 50 ms)"
    )
    record(
        "d",
        f"indicators through the gateway at {rate:.0f}/s, a province's read model",
        _latency(indicators),
        f"reporting directly {_latency(baseline)}",
        "p99 < 50 ms",
    )
    record(
        "d",
        f"half of them overviews, {rate:.0f}/s (the 5 s before, as twenty dashboards opened "
        f"them: {_latency(opening)})",
        _latency(through),
        "",
        "p99 < 50 ms",
    )
    if national:
        try:
            memory.update(await national_reads(broker, rate))
        finally:
            await asyncio.to_thread(broker.stop)
    print(
        "(e) peak RSS  "
        + "  ".join(f"{n} {mb:.0f} MB" for n, mb in memory.items())
        + "  (goal < 300 MB each)"
    )
    _record_memory(memory)


async def _publish_noting_screenings(
    province: Province, http: httpx.AsyncClient, units: int, clients: int, sent_at: list[float]
) -> tuple[Programme, Outcome]:
    """A province's programme published, noting when each screening went out."""
    villages = await province.villages(http, units)
    programme = generate(
        province=province.code, villages=villages, units=units, clients=clients, seed=7
    )
    screenings = {id(case.facts[0]) for case in programme.cases}
    original = province.send_records

    async def noting(records: Any, kinds: Any) -> None:
        await original(records, kinds)
        sent_at.extend(
            province.sent_at[message_id]
            for message_id, *_ in records
            if id(kinds[message_id]) in screenings
        )

    province.send_records = noting  # type: ignore[method-assign]
    return programme, await publish(programme, province, http)


async def national_reads(broker: KafkaBroker, rate: float) -> dict[str, float]:
    """(d) at national size: reporting's read model written directly (as `pulih reporting
    rebuild` would leave it) with 10^5 units and 10^6 people screened in the 38 provinces;
    reporting and the gateway started on it; once the background suppressor has made every
    province's cubes, indicator tables (Indonesia by province, each province by regency) at
    `rate` per second through the gateway, beside reporting called directly."""
    root = Path(tempfile.mkdtemp(prefix="pulih-bench-national-", dir="/tmp"))
    url = f"sqlite+aiosqlite:///{root / 'data' / 'reporting.db'}"
    started = time.monotonic()
    size = await seed_national_read_model(url)
    print(
        f"\nnational read model: {size['units']:,} units in {size['villages']:,} villages, "
        f"{size['screenings']:,} screenings, written in {time.monotonic() - started:.0f}s"
    )
    services = Services(
        {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
            "PULIH_STATE_DIR": str(root),
            "PULIH_HTTP_PORT_BASE": str(free_port_base()),
            "PULIH_TOPIC_PREFIX": "national-",
        },
        root,
    )
    year = datetime.now(UTC).year
    paths = [f"/api/reporting/indicators/{i}?period={year}" for i in NATIONAL_INDICATORS] + [
        f"/api/reporting/indicators/{i}?period={year}&within={p}&level=regency"
        for p in PROVINCE_CODES
        for i in NATIONAL_INDICATORS
    ]
    try:
        # Ready once its first cubes and the overviews' tables are made (`warming.py`).
        services.start("reporting")
        ready_after = await services.ready("reporting", 600)
        print(f"reporting ready {ready_after:.0f}s after its start")
        services.start("gateway")
        await services.ready("gateway")
        async with httpx.AsyncClient(
            base_url=services.url("gateway"), timeout=60, transport=AiohttpTransport()
        ) as http:
            started = time.monotonic()
            # The first 20 s after reporting is ready, while the suppressor makes the cubes
            # it did not make ahead: a table whose cube is not made yet is answered at once,
            # pending.
            failed: list[int] = []
            pending: list[float] = []
            first = await read_latency(http, paths, rate, 20, failed, pending)
            for path in paths:  # each client-derived table once its province's cube is made
                suppressed = "clients_screened" in path and path.endswith("regency")
                while "suppressed_as_of" not in (await http.get(path, headers=READER)).json():
                    if not suppressed:
                        break
                    await asyncio.sleep(0.5)
            print(
                f"every province's cubes made in the background within "
                f"{time.monotonic() - started:.0f}s of reporting being ready"
            )
            settled = time.monotonic()
            while time.monotonic() - settled < 600:  # until a round of every table is quick:
                round_started = time.monotonic()  # the suppressor done with the rest
                for path in paths:
                    (await http.get(path, headers=READER)).raise_for_status()
                if time.monotonic() - round_started < 1:
                    break
            kept_after = time.monotonic() - started
            print(f"then every table answered from what was kept {kept_after:.0f}s in")
            warming = await read_latency(http, paths, rate, 10)
            print(
                f"(d) 10 s at {rate:.0f}/s to warm up first: gateway p50 "
                f"{1000 * statistics.median(warming):.1f} ms  p99 "
                f"{1000 * percentile(warming, 0.99):.1f} ms"
            )
            through = await read_latency(http, paths, rate, 10)
        async with httpx.AsyncClient(
            base_url=services.url("reporting"), timeout=60, transport=AiohttpTransport()
        ) as direct:
            baseline = await read_latency(
                direct, [p.removeprefix("/api/reporting") for p in paths], rate, 10
            )
        memory = {
            f"{name} (national)": peak_rss_mb(p.pid) for name, p in services.processes.items()
        }
    finally:
        services.stop_all()
    print(
        f"(d) read latency at {rate:.0f}/s, the national read model ({len(paths)} indicator "
        f"tables): gateway p50 {1000 * statistics.median(through):.1f} ms  p99 "
        f"{1000 * percentile(through, 0.99):.1f} ms   reporting directly p50 "
        f"{1000 * statistics.median(baseline):.1f} ms  p99 {1000 * percentile(baseline, 0.99):.1f}"
        " ms  (goal p99 < 50 ms)"
    )
    record(
        "d",
        f"the national read model ({len(paths)} tables), through the gateway at {rate:.0f}/s",
        _latency(through),
        f"reporting directly {_latency(baseline)}",
        "p99 < 50 ms",
    )
    record(
        "d",
        f"the same, the first 20 s after reporting is ready ({ready_after:.0f} s after its "
        f"start; {len(pending):,} of {len(first):,} answered before their table was "
        f"suppressed, {len(failed)} errors)",
        _latency(first),
        "",
        "p99 < 50 ms",
    )
    print(
        f"(d) the same through the gateway in the first 20 s after reporting is ready: p50 "
        f"{1000 * statistics.median(first):.1f} ms  p99 {1000 * percentile(first, 0.99):.1f} ms"
        f"  ({len(failed)} of {len(first)} answered with an error: {sorted(set(failed))}; "
        f"{len(pending)} before their table was suppressed, every figure below province level "
        f"withheld, the last {max(pending, default=started) - started:.1f} s in)"
    )
    return memory


async def national_only(rate: float) -> None:
    root = Path(tempfile.mkdtemp(prefix="pulih-bench-", dir="/tmp"))
    broker = KafkaBroker(root / "kafka", free_port(), free_port())
    await asyncio.to_thread(broker.start, die_with_parent=True)
    try:
        memory = await national_reads(broker, rate)
    finally:
        await asyncio.to_thread(broker.stop)
    print("(e) peak RSS  " + "  ".join(f"{n} {mb:.0f} MB" for n, mb in memory.items()))
    _record_memory(memory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--provinces", default="74", help="province codes published at once, comma-separated"
    )
    parser.add_argument("--units", type=int, default=24, help="units per province")
    parser.add_argument("--clients", type=int, default=320, help="people screened per province")
    parser.add_argument("--rate", type=float, default=200, help="read requests per second")
    parser.add_argument(
        "--pace", type=float, default=2000, help="events published per second per province"
    )
    parser.add_argument(
        "--national",
        action="store_true",
        help="then (d) again on a national read model (10^5 units, 10^6 people screened)",
    )
    parser.add_argument(
        "--background",
        type=float,
        default=0,
        help="other provinces' registry facts per second, sent while the programme is",
    )
    parser.add_argument(
        "--freshness-only", action="store_true", help="(c) and (e) only, no read load"
    )
    parser.add_argument("--national-only", action="store_true", help="only the national (d)")
    arguments = parser.parse_args()
    if arguments.national_only:
        asyncio.run(national_only(arguments.rate))
        return
    asyncio.run(
        run(
            arguments.provinces.split(","),
            arguments.units,
            arguments.clients,
            arguments.rate,
            arguments.pace,
            arguments.national,
            arguments.background,
            reads=not arguments.freshness_only,
        )
    )


if __name__ == "__main__":
    main()
