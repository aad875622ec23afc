"""Scheduling's rules: a case plan from a template, balanced assignment to agents, due dates
local to the province, and the states a session goes through. Plain Python; time is always
passed in, so tests drive the clock.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
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


def local_today(now: datetime, province_code: str) -> date:
    """The date it is in the province at `now` (an aware instant)."""
    return now.astimezone(province_zone(province_code)).date()


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


OPEN = frozenset({SessionState.PLANNED, SessionState.DUE, SessionState.OVERDUE})


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


def plan_sessions(
    template: Template,
    *,
    screened_on: date,
    starts_on: date,
    agents: Mapping[str, int],
    new_id: Iterable[str],
) -> list[Session]:
    """The sessions still ahead on `starts_on` (weeks whose due date has not passed), each given
    to the active agent with the fewest open sessions at that moment (ties: the smaller id)."""
    if not agents:
        raise LookupError("the unit has no active agent to take the plan")
    load = dict(agents)
    ids = iter(new_id)
    sessions = []
    for week, session_type in template.sessions:
        due = due_date(screened_on, week)
        if due < starts_on:
            continue
        agent = min(load, key=lambda a: (load[a], a))
        load[agent] += 1
        sessions.append(Session(next(ids), week, session_type, due, agent))
    return sessions


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


def consecutive_misses(sessions: Iterable[Session]) -> int:
    """Misses in a row at the end of the case's history (done sessions break the run)."""
    run = 0
    for session in sorted(sessions, key=lambda s: (s.due_on, s.session_id)):
        if session.state is SessionState.MISSED:
            run += 1
        elif session.state is SessionState.DONE:
            run = 0
    return run


def reassign(sessions: Iterable[Session], leaving: str, agents: Mapping[str, int]) -> list[Session]:
    """The open sessions of an agent who left, spread over the remaining agents by load."""
    load = {a: n for a, n in agents.items() if a != leaving}
    if not load:
        raise LookupError("no other active agent in the unit")
    moved = []
    for session in sorted(sessions, key=lambda s: s.due_on):
        if session.agent_id == leaving and session.state in OPEN:
            agent = min(load, key=lambda a: (load[a], a))
            load[agent] += 1
            moved.append(replace(session, agent_id=agent))
    return moved


def cancel_open(sessions: Iterable[Session]) -> list[Session]:
    """A closed case, or a unit that stopped, leaves no work behind."""
    return [replace(s, state=SessionState.CANCELLED) for s in sessions if s.state in OPEN]
