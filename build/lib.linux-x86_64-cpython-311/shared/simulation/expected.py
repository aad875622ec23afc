"""The figures reporting must show for a generated programme: every indicator it serves
(`GET /indicators`), for the province and each of its regencies, for each year from the first
fact to today's, worked out from the provincial facts alone — never from the platform's own
code or answers, so that a figure lost, counted twice or dated wrongly shows as a difference.

What counts is what a province's system sends and the platform must accept: each fact once,
by its natural key (a screening, an activity, a referral by the province's own id), so a fact
sent again — under the same message id (answered as a duplicate) or a new one (refused as
recorded before) — counts once, and so does a row's second fact the platform refuses (a
second enrolment, a referral key used again): the first stands. The faults the simulator
sends on purpose (a broken body, a case's fact naming no screening it sent) are not the
programme's facts and count nowhere (given to `ledger_of`, a case's fact naming no screening
is dropped too). Each figure is dated by when its fact happened, not when it arrived, so
late and shuffled deliveries (activities synced by offline devices) change nothing; where
later facts overwrite earlier ones (a referral's resolution), the province's order counts.

Definitions follow `services/reporting/indicators.py` and `special.py`:

- counts by the fact's event-time day: units formed, agents appointed, agents trained (each
  agent once a year), activities and their participants, clients screened (the screening's
  day on the unit's clock), admissions, entries to services and to aftercare, closures,
  referrals and relapses; zero where nothing happened.
- stocks (`in_services`, `in_aftercare`): a year's is its December's — the cases whose latest
  stage by 31 December (by day, then pathway order) is that stage. A transferred case is not
  closed: it stays in its last stage (the transfer is not a stage).
- `units_cumulative`: units formed by the end of the year; `units_against_target`: units
  formed in the year (its target and share are configuration, not the programme's).
- `operational_units`: units that held an activity, delivered a session or screened someone in
  the year (for a year, the configured window of months does not apply); `sustained_units`:
  those of them formed before the year. Sessions come from scheduling's plans, so the
  attendance `publish` sent is needed (`Programme.attended`).
- `median_days_to_intake`: over the cases enrolled in the year, the median of the days from
  screening to intake (never below 0); `referral_completion_rate`: the year's referrals whose
  latest resolution is `attended`, as a share of them (4 decimals).

Reporting gives the figures that are not counts no value (None) where there is nothing to
compute them from — no unit formed yet, no admission, no referral — and so does this module.

Time: nothing here depends on when the figures are read. Every fact is dated before the
programme's `today`, so the current year's December stock is the stock now; "at risk of
dropping out" and overdue sessions are scheduling's and client-case's working state, not
indicators reporting serves. Not modelled: months (where the operational window, a setting,
applies) and breakdowns; and a client-case whose drop-out policy is `close`, which closes
cases at risk by itself — which cases, and on which day, depends on when scheduling's sweeper
ran, so closures and stocks would not be exact. The default policy (`flag`, the tests')
closes nothing."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from shared.contracts import client_case_inbound as cases
from shared.contracts import registry
from shared.contracts.base import EventData
from shared.contracts.scheduling_inbound import ActivitySubmitted, AttendanceSubmitted

Value = int | float | None
"""A figure: a count, a median or a rate; None where reporting has nothing to compute it from."""

COUNTS = (
    "units_formed",
    "agents_appointed",
    "agents_trained",
    "activities",
    "activity_participants",
    "clients_screened",
    "admissions",
    "entered_services",
    "entered_aftercare",
    "closures",
    "referrals",
    "relapses",
)
STOCKS = ("in_services", "in_aftercare")
SPECIAL = (
    "units_cumulative",
    "units_against_target",
    "operational_units",
    "sustained_units",
    "median_days_to_intake",
    "referral_completion_rate",
)
INDICATORS = (*COUNTS, *STOCKS, *SPECIAL)
"""Every indicator reporting serves, each with an exact expected figure."""
CLIENT_DERIVED = {
    "clients_screened",
    "admissions",
    "entered_services",
    "entered_aftercare",
    "closures",
    "referrals",
    "relapses",
    *STOCKS,
    "median_days_to_intake",
    "referral_completion_rate",
}
"""Withheld below province level where small (and their complements): a regency's figure is
exact but may not be shown; a province's always is."""

STAGE_RANK = {"intake": 1, "services": 2, "aftercare": 3, "closed": 4}
"""Reporting's pathway order, for stages entered on the same day."""


def key(indicator: str, region: str, year: int) -> str:
    """`<indicator>|<region>|<year>`: `clients_screened|74|2026`, `activities|74.71|2025`."""
    return f"{indicator}|{region}|{year}"


@dataclass
class _Case:
    village: str
    screened_on: date
    enrolled_on: date | None = None
    closed_on: date | None = None
    stages: dict[str, date] = field(default_factory=dict)


@dataclass
class Ledger:
    """The rows reporting's read model must hold, as the facts describe them: each keyed as
    the read model keys it, so a fact twice is one row. (unit, village, day) for what units
    do; the case's village for what happens to a case (its unit's, until a transfer, after
    which the simulator sends nothing of the case)."""

    units: dict[str, tuple[str, date]] = field(default_factory=dict)
    agents: dict[str, tuple[str, date]] = field(default_factory=dict)
    trainings: dict[tuple[str, str], tuple[str, str, date]] = field(default_factory=dict)
    """(agent, training) → (agent, village, completed)."""
    activities: dict[str, tuple[str, str, date, int]] = field(default_factory=dict)
    """Submission id → (unit, village, held, participants)."""
    sessions: dict[str, tuple[str, str, date]] = field(default_factory=dict)
    """Session id → (unit, village, held)."""
    screenings: dict[str, tuple[str, str, date]] = field(default_factory=dict)
    """Submission id → (unit, village, screened)."""
    cases: dict[str, _Case] = field(default_factory=dict)
    referrals: dict[str, tuple[str, date, str | None]] = field(default_factory=dict)
    """Referral key → (village, referred, latest resolution)."""
    relapses: dict[str, tuple[str, date]] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)
    """Every fact taken in: the same fact again changes nothing (not even a resolution)."""

    def add(self, fact: EventData) -> None:
        """One fact a province sent, which the platform must accept unless it is one seen
        before or a case's fact naming no screening sent."""
        content = f"{type(fact).__name__}:{fact.model_dump_json()}"
        if content in self.seen:
            return
        self.seen.add(content)
        # A second fact for a row the platform already has (the same unit, activity or
        # referral key again; a second enrolment or closure) is refused: the first counts.
        if isinstance(fact, registry.UnitFormed):
            self.units.setdefault(fact.unit_id, (fact.village_code, fact.formed_on))
        elif isinstance(fact, registry.RecoveryAgentAppointed):
            self.agents.setdefault(fact.agent_id, (fact.village_code, fact.appointed_on))
        elif isinstance(fact, registry.RecoveryAgentTrained):
            self.trainings.setdefault(
                (fact.agent_id, fact.training_id),
                (fact.agent_id, fact.village_code, fact.completed_on),
            )
        elif isinstance(fact, ActivitySubmitted):
            self.activities.setdefault(
                fact.submission_id,
                (fact.unit_id, fact.village_code, fact.held_on, fact.participants),
            )
        elif isinstance(fact, AttendanceSubmitted):
            self.sessions.setdefault(
                fact.session_id, (fact.unit_id, fact.village_code, fact.held_on)
            )
        elif isinstance(fact, cases.ScreeningSubmitted):
            # The unit's day: the instant carries the unit's own offset.
            screened_on = fact.screened_at.date()
            if fact.submission_id not in self.screenings:
                self.screenings[fact.submission_id] = (
                    fact.unit_id,
                    fact.village_code,
                    screened_on,
                )
                self.cases[fact.submission_id] = _Case(fact.village_code, screened_on)
        else:
            self._add_to_case(fact)

    def _add_to_case(self, fact: EventData) -> None:
        submission = getattr(fact, "submission_id", None)
        case = self.cases.get(submission) if isinstance(submission, str) else None
        if case is None:
            return  # a case's fact naming no screening: refused, counts nowhere
        if isinstance(fact, cases.EnrolmentSubmitted) and case.enrolled_on is None:
            case.enrolled_on = fact.enrolled_on
            case.stages["intake"] = fact.enrolled_on
        elif isinstance(fact, cases.StageChangeSubmitted):
            case.stages.setdefault(str(fact.to_stage), fact.changed_on)
        elif isinstance(fact, cases.ClosureSubmitted) and case.closed_on is None:
            case.closed_on = fact.closed_on
            case.stages["closed"] = fact.closed_on
        elif isinstance(fact, cases.ReferralSubmitted):
            self.referrals.setdefault(fact.referral_key, (case.village, fact.referred_on, None))
        elif isinstance(fact, cases.ReferralResolutionSubmitted):
            referral = self.referrals.get(fact.referral_key)
            if referral is not None:  # else refused: the case has no such referral
                # Resolutions follow one another (accepted, then attended): the latest holds.
                self.referrals[fact.referral_key] = (*referral[:2], str(fact.resolution))
        elif isinstance(fact, cases.RelapseSubmitted):
            self.relapses[f"{submission}:{len(self.relapses)}"] = (case.village, fact.relapsed_on)
        # A transfer moves the case, which reporting does not count.

    def years(self, today: date) -> range:
        """From the first fact's year to today's."""
        days = [on for _, on in self.units.values()]
        days += [on for _, _, on in self.screenings.values()]
        return range(min(days, default=today).year, today.year + 1)

    def regions(self, province: str) -> list[str]:
        """The province and its regencies with a unit (reporting knows a region by its units)."""
        return [province, *sorted({v[:5] for v, _ in self.units.values()})]


def ledger_of(facts: Iterable[EventData], attended: Sequence[AttendanceSubmitted] = ()) -> Ledger:
    """The rows `facts` (in the order a province sends them) and the sessions `attended`
    describe."""
    ledger = Ledger()
    for fact in [*facts, *attended]:
        ledger.add(fact)
    return ledger


def figures(ledger: Ledger, province: str, today: date) -> dict[str, Value]:
    """Every indicator's figure, by `key(indicator, region, year)`, for the province and each
    regency with a unit, each year from the first fact's to today's."""
    found: dict[str, Value] = {}
    for year in ledger.years(today):
        for region in ledger.regions(province):
            for name, value in _year(ledger, region, year).items():
                found[key(name, region, year)] = value
    return found


def _in(village: str, region: str) -> bool:
    return village == region or village.startswith(f"{region}.")


def _year(ledger: Ledger, region: str, year: int) -> dict[str, Value]:
    start, end = date(year, 1, 1), date(year, 12, 31)

    def within(village: str, on: date | None) -> bool:
        return on is not None and start <= on <= end and _in(village, region)

    cases = list(ledger.cases.values())
    counts: dict[str, Value] = {
        "units_formed": sum(within(v, on) for v, on in ledger.units.values()),
        "agents_appointed": sum(within(v, on) for v, on in ledger.agents.values()),
        "agents_trained": len({a for a, v, on in ledger.trainings.values() if within(v, on)}),
        "activities": sum(within(v, on) for _, v, on, _ in ledger.activities.values()),
        "activity_participants": sum(
            n for _, v, on, n in ledger.activities.values() if within(v, on)
        ),
        "clients_screened": sum(within(v, on) for _, v, on in ledger.screenings.values()),
        "admissions": sum(within(c.village, c.enrolled_on) for c in cases),
        "entered_services": sum(within(c.village, c.stages.get("services")) for c in cases),
        "entered_aftercare": sum(within(c.village, c.stages.get("aftercare")) for c in cases),
        "closures": sum(within(c.village, c.closed_on) for c in cases),
        "referrals": sum(within(v, on) for v, on, _ in ledger.referrals.values()),
        "relapses": sum(within(v, on) for v, on in ledger.relapses.values()),
    }
    latest = [_stage_by(c, end) for c in cases if _in(c.village, region)]
    stocks: dict[str, Value] = {
        "in_services": latest.count("services"),
        "in_aftercare": latest.count("aftercare"),
    }
    formed_by = sum(on <= end and _in(v, region) for v, on in ledger.units.values())
    active = _active(ledger, region, start, end)
    formed_before = {u for u, (v, on) in ledger.units.items() if on < start and _in(v, region)}
    sustained = active & formed_before
    formed = counts["units_formed"]
    special: dict[str, Value] = {
        "units_cumulative": formed_by or None,
        "units_against_target": formed or None,
        "operational_units": len(active) if active or formed_by else None,
        "sustained_units": len(sustained) if formed_before else None,
        "median_days_to_intake": _median_days(cases, region, start, end),
        "referral_completion_rate": _completion(ledger, region, start, end),
    }
    return {**counts, **stocks, **special}


def _stage_by(case: _Case, day: date) -> str | None:
    entered = sorted((on, STAGE_RANK[s], s) for s, on in case.stages.items() if on <= day)
    return entered[-1][2] if entered else None


def _active(ledger: Ledger, region: str, start: date, end: date) -> set[str]:
    """Units that held an activity, delivered a session or screened someone between the days."""
    done = [(u, v, on) for u, v, on, _ in ledger.activities.values()]
    done += ledger.sessions.values()
    done += ledger.screenings.values()
    return {u for u, v, on in done if start <= on <= end and _in(v, region)}


def _median_days(cases: list[_Case], region: str, start: date, end: date) -> Value:
    days = [
        max((c.enrolled_on - c.screened_on).days, 0)
        for c in cases
        if c.enrolled_on is not None and start <= c.enrolled_on <= end and _in(c.village, region)
    ]
    return float(statistics.median(days)) if days else None


def _completion(ledger: Ledger, region: str, start: date, end: date) -> Value:
    year = [r for v, on, r in ledger.referrals.values() if start <= on <= end and _in(v, region)]
    if not year:
        return None
    return round(sum(r == "attended" for r in year) / len(year), 4)
