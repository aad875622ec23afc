"""The whole platform under a province's load: freshness, read latency and memory.

    python -m tests.perf.bench_platform [--units N] [--clients C] [--rate R]   (make bench)

The five services run as their own processes on SQLite (as `make run` runs them) on a local
broker. The simulator publishes a province's programme through its inbound topic; meanwhile:

(c) freshness: the gateway's figure of clients screened in the province is read every 50 ms;
    the k-th screening is fresh when the figure first reaches k, and its freshness is that
    moment minus when the k-th screening was published (p50, p99 over every k);
(d) read latency: afterwards, indicator and overview requests at `--rate` requests/s through
    the gateway, beside the same indicator requests to reporting directly (the baseline);
(e) memory: each service's peak resident set (VmHWM) at the end.

Figures on this machine are in docs/benchmarks.md with the command; the read model here is a
province's, not the national one (10^5 units) the goal is stated for.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from httpx_aiohttp import AiohttpTransport

from shared.cli import PORT_OFFSETS
from shared.infra._process import free_port
from shared.infra.kafka import KafkaBroker
from shared.messaging.broker import Topics
from shared.simulation.programme import generate
from shared.simulation.publish import Platform, Province, publish
from tests.auth import bearer
from tests.processes import Services, free_port_base

READER = bearer("reporting-consumer")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def freshness(
    http: httpx.AsyncClient, sent_at: list[float], stop: asyncio.Event
) -> list[float]:
    """For each screening k (in publishing order), seconds from its publish until the
    gateway's figure first counted k screenings."""
    year = str(datetime.now(UTC).year)
    seen: list[tuple[float, int]] = []
    while not stop.is_set():
        answer = await http.get(
            "/api/reporting/indicators/clients_screened",
            params={"period": year, "within": "74"},
            headers=READER,
        )
        if answer.status_code == 200:
            seen.append((time.monotonic(), answer.json()["within"]["value"] or 0))
        await asyncio.sleep(0.05)
    lags = []
    for k, published in enumerate(sent_at, start=1):
        first = next((t for t, value in seen if value >= k), None)
        if first is not None:
            lags.append(max(first - published, 0.0))
    return lags


async def read_latency(
    http: httpx.AsyncClient, paths: list[str], rate: float, seconds: float
) -> list[float]:
    """Requests at a steady `rate` per second for `seconds`, round-robin over `paths`."""
    timings: list[float] = []

    async def one(path: str) -> None:
        started = time.perf_counter()
        answer = await http.get(path, headers=READER)
        answer.raise_for_status()
        timings.append(time.perf_counter() - started)

    tasks = []
    begun = time.monotonic()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begun + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(paths[n % len(paths)])))
    await asyncio.gather(*tasks)
    return timings


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(units: int, clients: int, rate: float, pace: float) -> None:
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
            "PULIH_INBOUND_PROVINCES": "74",
        },
        root,
    )
    try:
        for name in PORT_OFFSETS:
            services.start(name)
        for name in PORT_OFFSETS:
            await services.ready(name)
        gateway = services.url("gateway")
        province = Province(
            Platform(broker.bootstrap_servers, gateway, topics), "74", 7, print, rate=pace
        )
        # The load's own client is the gateway's (httpx over aiohttp's pool): httpcore's would
        # take a core's worth of the two this machine shares with what it measures.
        async with httpx.AsyncClient(
            base_url=gateway, timeout=30, transport=AiohttpTransport()
        ) as http:
            villages = await province.villages(http, units)
            programme = generate(
                province="74", villages=villages, units=units, clients=clients, seed=7
            )
            stop = asyncio.Event()
            sent_at: list[float] = []
            watcher = asyncio.create_task(freshness(http, sent_at, stop))
            started = time.monotonic()
            screenings = {id(case.facts[0]) for case in programme.cases}
            original = province.send_records

            async def noting(records, kinds):  # type: ignore[no-untyped-def]
                await original(records, kinds)
                sent_at.extend(
                    province.sent_at[message_id]
                    for message_id, *_ in records
                    if id(kinds[message_id]) in screenings
                )

            province.send_records = noting  # type: ignore[method-assign]
            outcome = await publish(programme, province, http)
            published_in = time.monotonic() - started
            await asyncio.sleep(3)
            stop.set()
            lags = await watcher
            unit = next(iter(programme.cases)).unit
            year = str(datetime.now(UTC).year)
            paths = [
                f"/api/reporting/indicators/clients_screened?period={year}&within=74",
                f"/api/reporting/indicators/units_formed?period={year}&within=74",
                f"/overview/regions/74?period={year}",
                f"/overview/units/{unit}",
            ]
            through = await read_latency(http, paths, rate, 10)
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
        await asyncio.to_thread(broker.stop)
    messages = sum(outcome.accepted.values()) + sum(outcome.rejected_messages.values())
    print(
        f"\nplatform: {messages} messages in {published_in:.1f}s "
        f"({messages / published_in:.0f}/s), {len(lags)} screenings followed"
    )
    print(
        f"(c) freshness publish→figure  p50 {percentile(lags, 0.5):.2f}s  "
        f"p99 {percentile(lags, 0.99):.2f}s  (goal p99 < 2 s at 2,000 events/s)"
    )
    print(
        f"(d) read latency at {rate:.0f}/s  gateway p50 {1000 * statistics.median(through):.1f} ms"
        f"  p99 {1000 * percentile(through, 0.99):.1f} ms   reporting directly p50 "
        f"{1000 * statistics.median(baseline):.1f} ms  p99 {1000 * percentile(baseline, 0.99):.1f}"
        " ms  (goal p99 < 50 ms)"
    )
    print(
        "(e) peak RSS  "
        + "  ".join(f"{n} {mb:.0f} MB" for n, mb in memory.items())
        + "  (goal < 300 MB each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=24)
    parser.add_argument("--clients", type=int, default=320)
    parser.add_argument("--rate", type=float, default=200, help="read requests per second")
    parser.add_argument("--pace", type=float, default=2000, help="events published per second")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.units, arguments.clients, arguments.rate, arguments.pace))


if __name__ == "__main__":
    main()
