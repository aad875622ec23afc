"""Scheduling's rules with the clock in the test's hands: templates, due dates local to the
province, one agent per case (or rotation), sweeper states, hand-over, re-plans, the attendance
window and cancellation."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.scheduling import domain
from services.scheduling.domain import OPEN, Session, SessionState
from services.scheduling.sweeper import days_of, windows
from shared.contracts.types import AdmissionRoute, RiskLevel, SessionType
from shared.regions import local_today
from shared.rules import RuleViolations

SCREENED = date(2026, 9, 1)
TEMPLATES = domain.load_templates()


def ids() -> Iterator[str]:
    return (f"session-{n:012d}" for n in itertools.count(1))


def test_the_local_day_is_the_provinces_own() -> None:
    evening_utc = datetime(2026, 11, 22, 16, 30, tzinfo=UTC)
    assert local_today(evening_utc, "31") == date(2026, 11, 22)  # Jakarta 23:30
    assert local_today(evening_utc, "73") == date(2026, 11, 23)  # Makassar 00:30
    assert local_today(evening_utc, "96") == date(2026, 11, 23)  # Sorong 01:30
    assert domain.province_zone("91").key == "Asia/Jayapura"


def test_a_template_is_chosen_by_route_and_risk() -> None:
    pick = domain.choose_template
    assert pick(TEMPLATES, AdmissionRoute.VOLUNTARY, RiskLevel.HIGH).name == "moderate-or-high"
    assert pick(TEMPLATES, AdmissionRoute.COMPULSORY, RiskLevel.LOW).name == "low"
    assert pick(TEMPLATES, AdmissionRoute.AFTERCARE, RiskLevel.LOW).name == "aftercare"


def test_a_plan_covers_weeks_2_to_16_with_one_agent_for_continuity() -> None:
    template = domain.choose_template(TEMPLATES, AdmissionRoute.VOLUNTARY, RiskLevel.MODERATE)
    sessions = domain.plan_sessions(
        template,
        screened_on=SCREENED,
        starts_on=SCREENED,
        agents={"agent-b": 0, "agent-a": 0, "agent-c": 3},
        new_id=ids(),
    )
    assert [s.week for s in sessions] == sorted(s.week for s in sessions)
    assert {s.week for s in sessions} == set(range(2, 17))
    assert sessions[0].session_type is SessionType.INTAKE
    assert sessions[0].due_on == date(2026, 9, 14)  # end of week 2
    assert sessions[-1].due_on == date(2026, 12, 21)  # end of week 16
    # The client meets the same agent every week: the least-loaded (ties: the smaller id).
    assert {s.agent_id for s in sessions} == {"agent-a"}
    assert len({s.session_id for s in sessions}) == len(sessions)


def test_a_unit_that_prefers_rotation_spreads_the_plan_by_load() -> None:
    template = domain.choose_template(TEMPLATES, AdmissionRoute.VOLUNTARY, RiskLevel.MODERATE)
    sessions = domain.plan_sessions(
        template,
        screened_on=SCREENED,
        starts_on=SCREENED,
        agents={"agent-b": 0, "agent-a": 0, "agent-c": 3},
        new_id=ids(),
        rotate=True,
    )
    given = Counter(s.agent_id for s in sessions)
    totals = [given["agent-a"], given["agent-b"], given["agent-c"] + 3]  # agent-c had 3 already
    assert max(totals) - min(totals) <= 1
    assert given["agent-c"] < given["agent-a"]


def test_a_late_enrolment_plans_only_the_weeks_ahead() -> None:
    template = domain.choose_template(TEMPLATES, AdmissionRoute.VOLUNTARY, RiskLevel.LOW)
    late = domain.plan_sessions(
        template,
        screened_on=SCREENED,
        starts_on=date(2026, 10, 20),
        agents={"agent-a": 0},
        new_id=ids(),
    )
    assert min(s.week for s in late) == 8
    with pytest.raises(LookupError):
        domain.plan_sessions(
            template, screened_on=SCREENED, starts_on=SCREENED, agents={}, new_id=ids()
        )


def test_the_sweeper_moves_sessions_with_the_clock() -> None:
    session = Session("s-1", 3, SessionType.INDIVIDUAL_COUNSELLING, date(2026, 9, 21), "agent-a")
    states = [
        domain.sweep(session, day, grace_days=7).state
        for day in (
            date(2026, 9, 14),
            date(2026, 9, 15),
            date(2026, 9, 21),
            date(2026, 9, 22),
            date(2026, 9, 28),
            date(2026, 9, 29),
        )
    ]
    assert states == [
        SessionState.PLANNED,
        SessionState.DUE,
        SessionState.DUE,
        SessionState.OVERDUE,
        SessionState.OVERDUE,
        SessionState.MISSED,
    ]
    done = Session(
        "s-2", 3, SessionType.HOME_VISIT, date(2026, 9, 21), "agent-a", SessionState.DONE
    )
    assert domain.sweep(done, date(2027, 1, 1), grace_days=7) is done


def test_the_sweepers_date_ranges_give_the_state_the_rule_gives() -> None:
    # The sweeper moves sessions by ranges of due dates in SQL; each open session must land in
    # the state `domain.sweep` gives it, on every day around its due date, whatever the grace.
    today = date(2026, 9, 21)
    for grace_days, offset, state in itertools.product(range(0, 10), range(-30, 30), OPEN):
        due = today + timedelta(days=offset)
        session = Session("s-1", 3, SessionType.HOME_VISIT, due, "agent-a", state)
        ranges = [
            s
            for s, since, until in windows(today, grace_days)
            if (since is None or due >= since) and (until is None or due < until)
        ]
        assert ranges == [domain.sweep(session, today, grace_days=grace_days).state], (
            grace_days,
            offset,
        )


def test_the_provinces_share_a_date_except_while_the_east_is_past_midnight() -> None:
    assert len(days_of(datetime(2026, 9, 14, 14, 59, tzinfo=UTC))) == 1
    split = days_of(datetime(2026, 9, 14, 15, 30, tzinfo=UTC))  # 00:30 in WIT, 23:30 in WITA
    assert split[date(2026, 9, 15)] == ["81", "82", "91", "92", "93", "94", "95", "96"]
    assert "31" in split[date(2026, 9, 14)] and "51" in split[date(2026, 9, 14)]
    assert len(days_of(datetime(2026, 9, 14, 17, 0, tzinfo=UTC))) == 1


def test_consecutive_misses_count_from_the_last_done_session() -> None:
    def s(n: int, state: SessionState) -> Session:
        return Session(
            f"s-{n}",
            n + 1,
            SessionType.INDIVIDUAL_COUNSELLING,
            SCREENED + timedelta(days=7 * n),
            "agent-a",
            state,
        )

    history = [
        s(1, SessionState.MISSED),
        s(2, SessionState.DONE),
        s(3, SessionState.MISSED),
        s(4, SessionState.MISSED),
        s(5, SessionState.PLANNED),
    ]
    assert [m.session_id for m in domain.missed_in_a_row(reversed(history))] == ["s-3", "s-4"]
    assert domain.missed_in_a_row([*history, s(6, SessionState.DONE)]) == []


def test_a_leaving_agents_cases_each_go_to_one_agent_and_closure_cancels() -> None:
    sessions = [
        Session("s-1", 2, SessionType.INTAKE, date(2026, 9, 14), "agent-a", SessionState.DONE),
        Session("s-2", 3, SessionType.HOME_VISIT, date(2026, 9, 21), "agent-a"),
        Session("s-3", 4, SessionType.HOME_VISIT, date(2026, 9, 28), "agent-a"),
        Session("s-4", 5, SessionType.HOME_VISIT, date(2026, 10, 5), "agent-b"),
    ]
    case_a = [sessions[1], sessions[2]]
    case_b = [Session("s-5", 3, SessionType.HOME_VISIT, date(2026, 9, 21), "agent-a")]
    remaining = {"case-a": case_a, "case-b": case_b}
    load = domain.loads_without({"agent-b": 1, "agent-c": 0}, [*case_a, *case_b])
    moved, primaries = domain.assign(remaining, {"case-a": "agent-a"}, load)
    # Each case keeps one agent: the least-loaded when it took the case over.
    assert [(s.session_id, s.agent_id) for s in moved] == [
        ("s-2", "agent-c"),
        ("s-3", "agent-c"),
        ("s-5", "agent-b"),
    ]
    assert primaries == {"case-a": "agent-c", "case-b": "agent-b"}
    # A primary agent still active keeps the case.
    kept, unchanged = domain.assign({"case-a": case_a}, {"case-a": "agent-a"}, {"agent-a": 0})
    assert (kept, unchanged) == ([], {})
    rotated, _ = domain.assign(remaining, {}, {"agent-b": 0, "agent-c": 0}, rotate=True)
    assert Counter(s.agent_id for s in rotated) == {"agent-b": 2, "agent-c": 1}
    with pytest.raises(LookupError):
        domain.assign(remaining, {}, {})
    cancelled = domain.cancel_open(sessions)
    assert [s.session_id for s in cancelled] == ["s-2", "s-3", "s-4"]
    assert {s.state for s in cancelled} == {SessionState.CANCELLED}


def test_a_replan_keeps_the_order_and_spacing_of_what_is_left() -> None:
    held = [
        Session("s-4", 5, SessionType.HOME_VISIT, date(2026, 10, 5), "a", SessionState.ON_HOLD),
        Session("s-5", 7, SessionType.HOME_VISIT, date(2026, 10, 19), "a", SessionState.ON_HOLD),
        Session("s-3", 4, SessionType.HOME_VISIT, date(2026, 9, 28), "a", SessionState.ON_HOLD),
        Session("s-1", 2, SessionType.INTAKE, date(2026, 9, 14), "a", SessionState.DONE),
    ]
    later = domain.replan(held, date(2026, 11, 2), never_earlier=True)
    assert [(s.session_id, s.due_on) for s in later] == [
        ("s-3", date(2026, 11, 8)),  # the end of the week starting on 2 November
        ("s-4", date(2026, 11, 15)),
        ("s-5", date(2026, 11, 29)),  # two weeks after, as planned
    ]
    # A unit back before the held sessions were due keeps their dates.
    assert domain.replan(held, date(2026, 9, 20), never_earlier=True)[0].due_on == date(2026, 9, 28)
    # An agent may bring the plan forward.
    assert domain.replan(held, date(2026, 9, 15), never_earlier=False)[0].due_on == date(
        2026, 9, 21
    )
    assert domain.opened_state(later[0], date(2026, 11, 2)) is SessionState.DUE
    assert domain.opened_state(later[1], date(2026, 11, 2)) is SessionState.PLANNED
    assert domain.opened_state(later[0], date(2027, 1, 1)) is SessionState.DUE  # never missed


def test_the_attendance_window_opens_a_week_before_the_sessions_week() -> None:
    # Due 21 September: its week is 15-21 September; attendance from 8 September.
    assert domain.attendance_window(date(2026, 9, 21), date(2026, 9, 21), date(2026, 10, 1)) == (
        date(2026, 9, 8),
        date(2026, 10, 1),
    )
    # Moved later: the week first planned still counts.
    assert domain.attendance_window(date(2026, 9, 21), date(2026, 10, 5), date(2026, 10, 1))[
        0
    ] == date(2026, 9, 8)


def test_templates_are_checked_when_loaded(tmp_path: Path) -> None:
    bad = {
        "templates": [
            {
                "name": "too-long",
                "routes": ["voluntary"],
                "levels": ["low"],
                "sessions": [{"weeks": [1, 17], "type": "intake"}],
            }
        ]
    }
    path = tmp_path / "templates.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(RuleViolations) as broken:
        domain.load_templates(path)
    assert [(v.field, v.rule) for v in broken.value.violations] == [
        ("templates.too-long", "weeks-2-to-16")
    ]
