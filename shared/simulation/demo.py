"""`pulih simulate`: a province's programme published through its real inbound path, and the
welcome `make run` prints: where the dashboard is, a development token per role, what to try."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from datetime import UTC, date, datetime

import httpx

from shared.messaging.broker import Topics
from shared.security.tokens import development_token
from shared.simulation.outcome import Outcome
from shared.simulation.programme import Programme, Totals, generate
from shared.simulation.province import Platform, Province
from shared.simulation.publish import publish

DEMO = {"province": "74", "units": 24, "clients": 320, "seed": 2026}
"""The demo: a year of Sulawesi Tenggara's programme."""


async def simulate(
    *,
    provinces: list[str],
    units: int,
    clients: int,
    seed: int,
    gateway: str,
    bootstrap: str,
    say: Callable[[str], None],
    via: str = "kafka",
    faults: float = 0.0,
    today: date | None = None,
) -> tuple[Totals, list[Outcome]]:
    """Each province's programme (`units` and `clients` each, seeded by seed and province)
    published at once, as many provincial systems do; the totals of all of them, with each
    province's expected figures (and its regencies')."""
    platform = Platform(bootstrap, gateway, Topics(os.environ.get("PULIH_TOPIC_PREFIX", "")))

    async def one(code: str) -> tuple[Programme, Outcome]:
        system = Province(platform, code, seed, lambda line: say(f"[{code}] {line}"), via)
        async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
            villages = await system.villages(http, units)
            programme = generate(
                province=code,
                villages=villages,
                units=units,
                clients=clients,
                seed=seed,
                today=today,
            )
            return programme, await publish(programme, system, http, faults=faults, today=today)

    done = await asyncio.gather(*(one(code) for code in provinces))
    totals = Totals()
    for programme, _ in done:
        totals.counts.update(programme.totals.counts)
        totals.figures.update(programme.totals.figures)  # keyed by region: no two alike
    return totals, [outcome for _, outcome in done]


async def ready(urls: list[str], seconds: float = 180) -> None:
    """Wait until every service answers its readiness probe."""
    async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(seconds):
        for url in urls:
            while True:
                try:
                    if (await http.get(f"{url}/health/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.5)


def welcome(gateway: str, province: str, unit_id: str | None) -> str:
    """What a newcomer needs after `make run`: where to look, how to get in, what to try."""
    roles = [
        ("national operator", "national-operator"),
        (f"province {province} operator", f"province-operator:{province}"),
        ("reporting consumer", "reporting-consumer"),
        (f"province {province}'s system", f"province-system:{province}"),
    ]
    if unit_id:
        roles.append(("a unit's agent", f"unit-agent:{unit_id}"))
    year = datetime.now(UTC).year
    tokens = "\n".join(
        f"  {name:24} {development_token([role], ttl_seconds=24 * 3600)}" for name, role in roles
    )
    return f"""
Pulih is running. Open the dashboard: {gateway}/
Development tokens (24 h; `pulih auth token --role <role>` prints more):
{tokens}
Three things to try:
  1. Sign in to the dashboard as the national operator, click Sulawesi Tenggara on the map,
     then a regency: the figures and the table below follow.
  2. curl -H "Authorization: Bearer <province operator token>" \\
       "{gateway}/api/reporting/indicators/clients_screened?period={year}&within={province}"
  3. Send your own fact as the province's system: docs/asyncapi.json lists every type on
     ibm.inbound.{province} with a complete example; answers come on ibm.receipts.{province}
     and at {gateway}/receipts.
Ctrl-C stops everything; a second `make run` keeps the data.
"""


def first_unit(province: str, seed: int) -> str:
    """The id of the first unit the simulator forms (for an agent's token in the welcome)."""
    from shared.simulation.programme import unit_id_of

    return unit_id_of(province, seed, 1)
