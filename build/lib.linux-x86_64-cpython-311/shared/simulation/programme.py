"""A province's programme as its own system would record it, generated deterministically from a
seed: units formed over the years (some stop, the rest hold activities), agents appointed and
trained in batches, people screened with a realistic spread of ASSIST risk, the 16-week pathway
with stage changes, referrals of the serious cases and what became of them, relapses, transfers
and closures. Only the provincial inbound contracts are produced (`shared.contracts`), so what
is generated is exactly what a province can send; `publish` sends it.

Plain generation, no I/O: the same seed and day give the same facts, and `Totals` says exactly
what was generated and the figure each indicator must show for it (`expected.py`), to check
the platform's figures against."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.contracts import client_case_inbound as cases
from shared.contracts import registry
from shared.contracts.base import EventData
from shared.contracts.scheduling_inbound import ActivitySubmitted, AttendanceSubmitted
from shared.simulation import expected
from shared.simulation.courses import Case, course, system_id


@dataclass
class Village:
    code: str
    name: str


@dataclass
class Totals:
    """Exactly what was generated, by kind of fact and by the keys the figures use, and the
    figure every indicator must show for it."""

    counts: Counter[str] = field(default_factory=Counter)
    figures: dict[str, expected.Value] = field(default_factory=dict)
    """By `expected.key(indicator, region, year)`: each indicator's exact figure for the
    province and its regencies, each year (`expected.py`). Complete once `publish` has sent
    the sessions scheduling planned (they make units operational)."""

    def add(self, kind: str, *keys: str) -> None:
        self.counts[kind] += 1
        for key in keys:
            self.counts[f"{kind}|{key}"] += 1

    def as_dict(self) -> dict[str, Any]:
        """The counts, and the expected figures under `figures`."""
        return {**dict(sorted(self.counts.items())), "figures": dict(sorted(self.figures.items()))}


@dataclass
class Programme:
    province: str
    registry: list[EventData]
    cases: list[Case]
    activities: list[ActivitySubmitted]
    totals: Totals
    today: date
    attended: list[AttendanceSubmitted] = field(default_factory=list)
    """The sessions `publish` recorded as attended (scheduling plans them: not generated)."""

    def facts(self) -> list[EventData]:
        """Every fact of the programme, each case's in the order the province sends them
        (its closure or transfer last); the sessions attended after the rest."""
        endings = [f for c in self.cases for f in ([c.ending] if c.ending else [])]
        later = [f for c in self.cases for f in c.facts]
        return [*self.registry, *later, *self.activities, *self.attended, *endings]

    def figures(self) -> dict[str, expected.Value]:
        """Each indicator's exact figure for what the programme sends (`expected.py`)."""
        return expected.figures(expected.ledger_of(self.facts()), self.province, self.today)


def generate(
    *,
    province: str,
    villages: list[Village],
    units: int,
    clients: int,
    seed: int,
    today: date | None = None,
) -> Programme:
    """A province's programme over the year to `today`: `units` units in the given villages
    (formed over the two years before and the first months of the year), `clients` people
    screened during the year."""
    today = today or datetime.now(UTC).date()
    rnd = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    year_start = today - timedelta(days=364)
    totals = Totals()
    facts: list[EventData] = []
    formed: dict[str, tuple[dict[str, str], date, list[str]]] = {}
    stopped: dict[str, date] = {}
    chosen = rnd.sample(villages, min(units, len(villages)))
    for n, village in enumerate(chosen, start=1):
        unit_id = system_id("unit", province, seed, n)
        where = {
            "unit_id": unit_id,
            "province_code": province,
            "village_code": village.code,
        }
        formed_on = year_start - timedelta(days=rnd.randint(-240, 730))
        facts.append(
            registry.UnitFormed(
                **where,
                unit_name=f"IBM {village.name}"[:120],
                formed_on=formed_on,
                decree_number=f"{n}/SK-IBM/{formed_on.year}",
                decree_date=formed_on - timedelta(days=rnd.randint(1, 20)),
                formation="bnn_target" if rnd.random() < 0.7 else "mandiri",
                facilitating_office=f"BNNP-{province}",
            )
        )
        totals.add("units_formed", str(formed_on.year), f"{village.code[:5]}|{formed_on.year}")
        agents = []
        for a in range(1, rnd.randint(2, 4) + 1):
            agent_id = system_id("agent", province, seed, n * 10 + a)
            agents.append(agent_id)
            facts.append(
                registry.RecoveryAgentAppointed(
                    **where,
                    agent_id=agent_id,
                    role="coordinator" if a == 1 else "member",
                    appointed_on=formed_on,
                    decree_number=f"{n}.{a}/SK-AP/{formed_on.year}",
                    decree_date=formed_on - timedelta(days=1),
                )
            )
            totals.add("agents_appointed")
        facts.append(
            registry.UnitFundingRecorded(
                **where,
                funding_id=system_id("fund", province, seed, n),
                fiscal_year=today.year,
                source=rnd.choice(["bnn", "dana_desa", "apbd"]),
                amount_idr=rnd.randrange(10, 60) * 1_000_000,
            )
        )
        formed[unit_id] = (where, formed_on, agents)
        if rnd.random() < 0.12 and formed_on < today - timedelta(days=120):
            stopped[unit_id] = max(formed_on, year_start) + timedelta(days=rnd.randint(30, 90))
    # Trainings: a batch a quarter, for the agents appointed by then and not yet trained.
    trained: set[str] = set()
    for quarter in range(1, 5):
        completed_on = year_start + timedelta(days=91 * quarter - 3)
        if completed_on >= today:
            break
        training_id = system_id("train", province, seed, quarter)
        for unit_id, (where, formed_on, agents) in formed.items():
            if formed_on >= completed_on or unit_id in stopped:
                continue
            for agent in agents[:2]:
                if agent in trained:
                    continue
                trained.add(agent)
                facts.append(
                    registry.RecoveryAgentTrained(
                        **where,
                        agent_id=agent,
                        training_id=training_id,
                        training_kind="basic",
                        trainer_office=f"BNNP-{province}",
                        completed_on=completed_on,
                        hours=32,
                    )
                )
                totals.add("agents_trained")
    revived: dict[str, date] = {}
    for unit_id, on in stopped.items():
        facts.append(
            registry.UnitStatusChanged(
                **formed[unit_id][0],
                from_status="active",
                to_status="suspended",
                reason="no_activity",
                effective_on=on,
            )
        )
        back = on + timedelta(days=rnd.randint(45, 120))
        if rnd.random() < 0.4 and back < today:  # some units come back to life
            revived[unit_id] = back
            facts.append(
                registry.UnitStatusChanged(
                    **formed[unit_id][0],
                    from_status="suspended",
                    to_status="active",
                    reason="activity_resumed",
                    effective_on=back,
                )
            )
    serving = [u for u in formed if u not in stopped]
    people = []
    for number in range(1, clients + 1):
        unit_id = rnd.choice(serving)
        where, formed_on, agents = formed[unit_id]
        first_day = max(formed_on + timedelta(days=1), year_start)
        if first_day >= today:
            continue
        screened_on = first_day + timedelta(days=rnd.randrange((today - first_day).days))
        people.append(
            course(rnd, province, seed, number, where, agents, screened_on, today, serving, formed)
        )
        totals.add("screened", people[-1].risk, f"{screened_on:%Y-%m}")
    for case in people:
        for fact in [*case.facts, *([case.ending] if case.ending else [])]:
            kind = type(fact).__name__.removesuffix("Submitted").lower()
            if isinstance(fact, cases.ClosureSubmitted):
                totals.add("closed", fact.outcome)
            elif not isinstance(fact, cases.ScreeningSubmitted):
                totals.add(kind)
    activities: list[ActivitySubmitted] = []
    for unit_id, (where, formed_on, agents) in formed.items():
        day, end = max(formed_on, year_start), stopped.get(unit_id, today)
        while (day := day + timedelta(days=rnd.randint(20, 60))) < today:
            if end <= day < revived.get(unit_id, today):
                continue  # none while it is stopped
            activities.append(
                ActivitySubmitted(
                    **where,
                    submission_id=system_id("act", province, seed, len(activities) + 1),
                    activity_type=rnd.choice(["awareness", "outreach", "screening_day"]),
                    held_on=day,
                    agent_ids=agents[:2],
                    participants=rnd.randint(10, 80),
                )
            )
            totals.add("activities", f"{day:%Y-%m}")
    rnd.shuffle(activities)  # delivered out of order, as offline devices sync them
    programme = Programme(province, facts, people, activities, totals, today)
    totals.figures = programme.figures()
    return programme


def unit_id_of(province: str, seed: int, number: int) -> str:
    return system_id("unit", province, seed, number)
