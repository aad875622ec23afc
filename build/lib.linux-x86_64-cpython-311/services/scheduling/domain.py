"""Scheduling's rules: a case plan from a template, balanced assignment to agents, due dates
local to the province, and the states a session goes through. Plain Python; time is always
passed in, so tests drive the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shared.contracts.types import AdmissionRoute, RiskLevel, SessionType
from shared.regions import time_zone_of
from shared.rules import Violation, check

WEEKS = 16
DEFAULT_TEMPLATES = Path(__file__).with_name("templates.json")


def province_zone(province_code: str) -> ZoneInfo:
    return ZoneInfo(time_zone_of(province_code).value)


# --- templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    name: str
    routes: frozenset[AdmissionRoute]
    levels: frozenset[RiskLevel]
    sessions: tuple[tuple[int, SessionType], ...]  # (week, type), sorted

    def matches(self, route: AdmissionRoute, level: RiskLevel) -> bool:
        return route in self.routes and level in self.levels


def load_templates(path: Path = DEFAULT_TEMPLATES) -> list[Template]:
    """Read and check the templates: weeks 2 to 16 only (week 1 is the screening)."""
    raw = json.loads(path.read_text())["templates"]
    templates, problems = [], []
    for item in raw:
        sessions = sorted(
            (week, SessionType(entry["type"]))
            for entry in item["sessions"]
            for week in entry["weeks"]
        )
        bad = [week for week, _ in sessions if not 2 <= week <= WEEKS]
        if bad:
            problems.append(
                Violation(
                    f"templates.{item['name']}",
                    "weeks-2-to-16",
                    f"weeks {bad} are outside the 15 weeks after screening",
                )
            )
        templates.append(
            Template(
                name=item["name"],
                routes=frozenset(AdmissionRoute(r) for r in item["routes"]),
                levels=frozenset(RiskLevel(level) for level in item["levels"]),
                sessions=tuple(sessions),
            )
        )
    check(problems)
    return templates


def choose_template(
    templates: Iterable[Template], route: AdmissionRoute, level: RiskLevel
) -> Template:
    for template in templates:
        if template.matches(route, level):
            return template
    raise LookupError(f"no plan template for route {route} and risk {level}")


# --- plans and sessions ----------------------------------------------------------------------


class SessionState(StrEnum):
    PLANNED = "planned"
    DUE = "due"
    OVERDUE = "overdue"
    DONE = "done"
    MISSED = "missed"
    CANCELLED = "cancelled"
    ON_HOLD = "on_hold"
    """Paused while the case's unit is suspended or dissolved: re-planned when the unit
    returns, the case moves to another unit, or an agent re-plans it."""


OPEN = frozenset({SessionState.PLANNED, SessionState.DUE, SessionState.OVERDUE})
REMAINING = OPEN | {SessionState.ON_HOLD}
"""What is still ahead of a case: what a re-plan re-dates and a new agent takes over."""

ATTENDANCE_EARLY_DAYS = 7
"""Attendance may be dated from a week before the session's week begins (a client who came
early) up to today; a date further from the plan is a wrong fact, not an early session."""


@dataclass(frozen=True)
class Session:
    session_id: str
    week: int
    session_type: SessionType
    due_on: date
    agent_id: str
    state: SessionState = SessionState.PLANNED


def session_of(row: Mapping[Any, Any]) -> Session:
    """A session as the `sessions` table stores it."""
    return Session(
        row["session_id"],
        row["week"],
        SessionType(row["session_type"]),
        row["due_on"],
        row["agent_id"],
        SessionState(row["state"]),
    )


def due_date(screened_on: date, week: int) -> date:
    """Week n of the 16 ends n weeks after the screening day: a session is due by then."""
    return screened_on + timedelta(days=7 * week - 1)


def least_loaded(agents: Mapping[str, int]) -> str:
    """The active agent with the fewest open sessions (ties: the smaller id)."""
    if not agents:
        raise LookupError("the unit has no active agent")
    return min(agents, key=lambda a: (agents[a], a))


def plan_sessions(
    template: Template,
    *,
    screened_on: date,
    starts_on: date,
    agents: Mapping[str, int],
    new_id: Iterable[str],
    rotate: bool = False,
) -> list[Session]:
    """The sessions still ahead on `starts_on` (weeks whose due date has not passed), all given
    to one agent, the case's primary agent: the least-loaded active agent, so the client meets
    the same person every week. A unit that prefers rotation (`rotate`) gives each session to
    the least-loaded agent at that moment instead."""
    if not agents:
        raise LookupError("the unit has no active agent to take the plan")
    load = dict(agents)
    primary = least_loaded(load)
    ids = iter(new_id)
    sessions = []
    for week, session_type in template.sessions:
        due = due_date(screened_on, week)
        if due < starts_on:
            continue
        agent = least_loaded(load) if rotate else primary
        load[agent] += 1
        sessions.append(Session(next(ids), week, session_type, due, agent))
    return sessions


def replan(sessions: Iterable[Session], starts_on: date, *, never_earlier: bool) -> list[Session]:
    """The remaining sessions re-dated from `starts_on`, keeping their order and the days
    between them: the first becomes due at the end of the week that starts on `starts_on`
    (as week n of a plan is due at its end), every other moves by as many days.
    `never_earlier`: a unit returning from a short pause keeps dates still ahead of that."""
    ahead = sorted((s for s in sessions if s.state in REMAINING), key=lambda s: (s.due_on, s.week))
    if not ahead:
        return []
    shift = starts_on + timedelta(days=6) - ahead[0].due_on
    if never_earlier:
        shift = max(shift, timedelta(0))
    return [replace(s, due_on=s.due_on + shift) for s in ahead]


def opened_state(session: Session, today: date) -> SessionState:
    """The state of a session (re-)planned today: planned, or due once its week has begun.
    Never straight to overdue or missed: the sweeper makes (and announces) that change."""
    if sweep(replace(session, state=SessionState.PLANNED), today, grace_days=0).state is (
        SessionState.PLANNED
    ):
        return SessionState.PLANNED
    return SessionState.DUE


def assign(
    remaining: Mapping[str, Sequence[Session]],
    primaries: Mapping[str, str | None],
    agents: Mapping[str, int],
    *,
    rotate: bool = False,
) -> tuple[list[Session], dict[str, str]]:
    """Agents for the remaining sessions of cases (case id → its sessions) among the active
    agents and their loads (not counting these sessions: `loads_without`): each case keeps
    one agent, its primary while that agent is active, otherwise the least-loaded active
    agent, who becomes its primary. A unit that prefers rotation spreads every session by
    load. Returns the sessions whose agent changed and the cases' new primary agents."""
    if not agents:
        raise LookupError("the unit has no active agent")
    load = dict(agents)
    moved: list[Session] = []
    new_primaries: dict[str, str] = {}
    for case_id in sorted(remaining):
        ahead = sorted(remaining[case_id], key=lambda s: (s.due_on, s.week))
        primary = primaries.get(case_id)
        if not rotate and primary not in load:
            primary = new_primaries[case_id] = least_loaded(load)
        for s in ahead:
            agent = least_loaded(load) if rotate or primary is None else primary
            if s.state in OPEN:
                load[agent] += 1
            if agent != s.agent_id:
                moved.append(replace(s, agent_id=agent))
    return moved, new_primaries


def loads_without(agents: Mapping[str, int], sessions: Iterable[Session]) -> dict[str, int]:
    """The agents' loads less the open sessions given (those about to be assigned again)."""
    load = dict(agents)
    for s in sessions:
        if s.state in OPEN and s.agent_id in load:
            load[s.agent_id] -= 1
    return load


def attendance_window(planned_on: date, due_on: date, today: date) -> tuple[date, date]:
    """The dates attendance at a session may carry: from `ATTENDANCE_EARLY_DAYS` before its
    week begins (the week ending on its due date, or on the date first planned if it moved
    since) up to today."""
    week_starts = min(planned_on, due_on) - timedelta(days=6)
    return week_starts - timedelta(days=ATTENDANCE_EARLY_DAYS), today


def sweep(session: Session, today: date, *, grace_days: int) -> Session:
    """Clock-driven states: planned until its week begins, due in its week, overdue after its
    due date, missed once `grace_days` more have passed without it being done."""
    if session.state not in OPEN:
        return session
    if today > session.due_on + timedelta(days=grace_days):
        state = SessionState.MISSED
    elif today > session.due_on:
        state = SessionState.OVERDUE
    elif today > session.due_on - timedelta(days=7):
        state = SessionState.DUE
    else:
        state = SessionState.PLANNED
    return replace(session, state=state)


def missed_in_a_row(sessions: Iterable[Session]) -> list[Session]:
    """The misses in a row at the end of the case's history, in the order they fell due (a
    done session breaks the run)."""
    run: list[Session] = []
    for session in sorted(sessions, key=lambda s: (s.due_on, s.session_id)):
        if session.state is SessionState.MISSED:
            run.append(session)
        elif session.state is SessionState.DONE:
            run = []
    return run


def cancel_open(sessions: Iterable[Session]) -> list[Session]:
    """A closed case, or a unit that stopped, leaves no work behind."""
    return [replace(s, state=SessionState.CANCELLED) for s in sessions if s.state in OPEN]
