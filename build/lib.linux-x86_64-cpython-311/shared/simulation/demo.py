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
from shared.simulation import check
from shared.simulation.outcome import Outcome
from shared.simulation.programme import Totals, generate
from shared.simulation.province import Platform, Province
from shared.simulation.publish import CAUGHT_UP_GROUPS, caught_up, publish

DEMO = {"province": "74", "units": 24, "clients": 320, "seed": 2026}
"""The demo: a year of Sulawesi Tenggara's programme."""
CLIENTS_PER_VILLAGE = 12
"""At national size, the people screened over a year for each village: 10^6 across
Indonesia's 83,762 villages (`../shared/DOMAIN.md`: design for 10^5 units, 10^6 clients)."""


def national_size(villages: int, scale: float) -> tuple[int, int]:
    """A province's units and people screened at `scale` of national size: a unit in that
    share of its villages, `CLIENTS_PER_VILLAGE` people a village times that share."""
    return max(1, round(villages * scale)), max(1, round(villages * CLIENTS_PER_VILLAGE * scale))


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
    scale: float | None = None,
    at_once: int | None = None,
) -> tuple[Totals, list[Outcome]]:
    """Each province's programme (`units` and `clients` each, or sized by its villages at
    `scale` of national size: `national_size`), seeded by seed and province, published as many
    provincial systems do: `at_once` provinces at a time (all if None). A province's
    programme is let go of once published. Returns the totals of all of them, with each
    province's expected figures (and its regencies'), and what each was answered."""
    platform = Platform(bootstrap, gateway, Topics(os.environ.get("PULIH_TOPIC_PREFIX", "")))
    turns = asyncio.Semaphore(at_once or len(provinces))
    published: list[str] = []

    async def one(code: str) -> tuple[Totals, Outcome]:
        async with turns, httpx.AsyncClient(base_url=gateway, timeout=60) as http:
            system = Province(platform, code, seed, lambda line: say(f"[{code}] {line}"), via)
            if scale is None:
                villages = await system.villages(http, units)
                size = units, clients
            else:
                villages = await system.villages(http, None)
                size = national_size(len(villages), scale)
                system.say(f"{len(villages)} villages: {size[0]} units, {size[1]} people")
            programme = await asyncio.to_thread(  # a big province takes a minute to make
                generate,
                province=code,
                villages=villages,
                units=size[0],
                clients=size[1],
                seed=seed,
                today=today,
            )
            outcome = await publish(programme, system, http, faults=faults, today=today)
            outcome.settle()
            published.append(code)
            if len(provinces) > 1:
                say(f"{len(published)} of {len(provinces)} provinces published")
            return programme.totals, outcome

    done = await asyncio.gather(*(one(code) for code in provinces))
    totals = Totals()
    for generated, _ in done:
        totals.counts.update(generated.counts)
        totals.figures.update(generated.figures)  # keyed by region: no two alike
    return totals, [outcome for _, outcome in done]


async def figures_agree(
    *,
    provinces: list[str],
    totals: Totals,
    gateway: str,
    bootstrap: str,
    say: Callable[[str], None],
    seconds: float = 600,
) -> bool:
    """Once every service has taken in what was published, each province's figures at the
    gateway beside the exact ones generated (`check.province_checked`), a line each and every
    difference named; whether they all agree."""
    topics = Topics(os.environ.get("PULIH_TOPIC_PREFIX", ""))
    say("checking: waiting for every service to take in what was published")
    await caught_up(bootstrap, topics, (*CAUGHT_UP_GROUPS, "reporting"))
    headers = {"Authorization": f"Bearer {development_token(['reporting-consumer'])}"}
    agree = True
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as http:
        for code in provinces:
            compared, differ, (lost, doubled) = await check.province_checked(
                http, totals.figures, code, headers, seconds
            )
            say(
                f"[{code}] {compared} figures compared with the exact ones: {len(differ)} "
                f"differ (counts lost {lost}, counted twice {doubled})"
            )
            for line in differ:
                say(f"[{code}]   {line}")
            agree = agree and not differ
    return agree


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
