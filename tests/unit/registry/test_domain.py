"""The registry's rules, decided in the domain layer without any framework."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from services.registry import domain
from services.registry.commands import ChangeUnitStatus
from services.registry.domain import Conflict, Decree, Scope, VillageFacts
from shared.contracts.types import (
    AgentDeactivationReason,
    UnitStatus,
    UnitStatusReason,
)
from shared.regions import TimeZone, time_zone_of
from shared.rules import RuleViolations
from tests.factories import VILLAGE, appoint_agent, form_unit

TODAY = date(2026, 11, 22)
OK_FACTS = VillageFacts(exists=True, active_units=0, office_exists=True)


def rules_broken(excinfo: pytest.ExceptionInfo[RuleViolations]) -> set[tuple[str | None, str]]:
    return {(v.field, v.rule) for v in excinfo.value.violations}


def test_a_unit_is_formed_active_in_its_village() -> None:
    unit = domain.form_unit(form_unit(), OK_FACTS, scope=Scope.of_regions("74"), today=TODAY)
    assert unit.status is UnitStatus.ACTIVE
    assert unit.province_code == "74"
    assert unit.status_since == date(2025, 3, 14)


def test_every_broken_rule_is_reported_at_once() -> None:
    bad = form_unit(
        name=" ",
        decree=Decree("", date(2027, 1, 1), ""),
        formed_on=date(2027, 1, 2),
        facilitating_office="BNNK-73.71",
    )
    facts = VillageFacts(exists=False, active_units=1, office_exists=True)
    with pytest.raises(RuleViolations) as broken:
        domain.form_unit(bad, facts, scope=Scope.of_regions("73"), today=TODAY)
    assert rules_broken(broken) == {
        ("village_code", "exists"),
        ("village_code", "in-scope"),
        ("village_code", "one-active-unit-per-village"),
        ("name", "required"),
        ("decree.number", "required"),
        ("decree.signatory", "required"),
        ("decree.signed_on", "not-in-future"),
        ("formed_on", "not-in-future"),
        ("facilitating_office", "covers-village"),
    }


def test_a_second_active_unit_needs_explicit_permission() -> None:
    busy = VillageFacts(exists=True, active_units=1, office_exists=True)
    with pytest.raises(RuleViolations):
        domain.form_unit(form_unit(), busy, scope=Scope.national(), today=TODAY)
    unit = domain.form_unit(
        form_unit(allow_second_unit=True), busy, scope=Scope.national(), today=TODAY
    )
    assert unit.village_code == VILLAGE


def test_formation_precedes_no_decree_and_office_must_exist() -> None:
    with pytest.raises(RuleViolations) as broken:
        domain.form_unit(
            form_unit(formed_on=date(2025, 3, 1)),
            replace(OK_FACTS, office_exists=False),
            scope=Scope.national(),
            today=TODAY,
        )
    assert rules_broken(broken) == {
        ("formed_on", "on-or-after-decree"),
        ("facilitating_office", "exists"),
    }


def test_district_scope_covers_only_its_villages() -> None:
    assert Scope.of_regions("74.71").covers(VILLAGE)
    assert not Scope.of_regions("74.72").covers(VILLAGE)
    assert Scope.of_regions("73", "74").covers(VILLAGE)
    assert Scope.national().covers(VILLAGE)
    with pytest.raises(ValueError):
        Scope.of_regions("7")


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        (UnitStatus.ACTIVE, UnitStatus.SUSPENDED, True),
        (UnitStatus.ACTIVE, UnitStatus.DISSOLVED, True),
        (UnitStatus.SUSPENDED, UnitStatus.ACTIVE, True),
        (UnitStatus.DISSOLVED, UnitStatus.ACTIVE, True),
        (UnitStatus.DISSOLVED, UnitStatus.SUSPENDED, False),
        (UnitStatus.ACTIVE, UnitStatus.ACTIVE, False),
    ],
)
def test_status_changes(start: UnitStatus, to: UnitStatus, allowed: bool) -> None:
    unit = replace(
        domain.form_unit(form_unit(), OK_FACTS, scope=Scope.national(), today=TODAY), status=start
    )
    cmd = ChangeUnitStatus(
        unit.unit_id, to, UnitStatusReason.VILLAGE_DECISION, date(2026, 1, 5), expected_version=1
    )
    if allowed:
        changed = domain.change_status(
            unit, cmd, scope=Scope.national(), today=TODAY, active_units_in_village=0
        )
        assert (changed.status, changed.version) == (to, 2)
    else:
        with pytest.raises(RuleViolations) as broken:
            domain.change_status(
                unit, cmd, scope=Scope.national(), today=TODAY, active_units_in_village=0
            )
        assert ("to_status", "allowed-transition") in rules_broken(broken)


def test_stale_version_is_a_conflict_and_revival_needs_a_free_village() -> None:
    unit = domain.form_unit(form_unit(), OK_FACTS, scope=Scope.national(), today=TODAY)
    with pytest.raises(Conflict):
        domain.change_status(
            unit,
            ChangeUnitStatus(
                unit.unit_id,
                UnitStatus.SUSPENDED,
                UnitStatusReason.NO_ACTIVITY,
                date(2026, 1, 5),
                expected_version=7,
            ),
            scope=Scope.national(),
            today=TODAY,
            active_units_in_village=0,
        )
    dissolved = replace(unit, status=UnitStatus.DISSOLVED)
    with pytest.raises(RuleViolations) as broken:
        domain.change_status(
            dissolved,
            ChangeUnitStatus(
                unit.unit_id, UnitStatus.ACTIVE, UnitStatusReason.ACTIVITY_RESUMED, date(2026, 1, 5)
            ),
            scope=Scope.national(),
            today=TODAY,
            active_units_in_village=1,
        )
    assert ("to_status", "one-active-unit-per-village") in rules_broken(broken)


def test_agents_join_only_active_units_and_leave_once() -> None:
    unit = domain.form_unit(form_unit(), OK_FACTS, scope=Scope.national(), today=TODAY)
    appoint = appoint_agent(unit.unit_id)
    with pytest.raises(RuleViolations) as broken:
        domain.appoint_agent(
            replace(unit, status=UnitStatus.SUSPENDED), appoint, scope=Scope.national(), today=TODAY
        )
    assert ("unit_id", "unit-active") in rules_broken(broken)
    agent = domain.appoint_agent(unit, appoint, scope=Scope.national(), today=TODAY)
    gone = domain.deactivate_agent(
        agent,
        unit,
        on=date(2026, 2, 1),
        reason=AgentDeactivationReason.MOVED_AWAY,
        scope=Scope.national(),
        today=TODAY,
    )
    assert not gone.active
    with pytest.raises(RuleViolations) as again:
        domain.deactivate_agent(
            gone,
            unit,
            on=date(2026, 2, 2),
            reason=AgentDeactivationReason.OTHER,
            scope=Scope.national(),
            today=TODAY,
        )
    assert ("agent_id", "agent-active") in rules_broken(again)


@pytest.mark.parametrize(
    ("province", "zone"),
    [
        ("11", TimeZone.WIB),
        ("31", TimeZone.WIB),
        ("62", TimeZone.WIB),
        ("51", TimeZone.WITA),
        ("53", TimeZone.WITA),
        ("63", TimeZone.WITA),
        ("65", TimeZone.WITA),
        ("76", TimeZone.WITA),
        ("81", TimeZone.WIT),
        ("96", TimeZone.WIT),
    ],
)
def test_province_time_zones(province: str, zone: TimeZone) -> None:
    assert time_zone_of(province) is zone


def test_region_codes_have_levels_and_parents() -> None:
    assert domain.level_of("74") is domain.RegionLevel.PROVINCE
    assert domain.level_of("74.71.01.1005") is domain.RegionLevel.VILLAGE
    assert domain.parent_of("74.71.01.1005") == "74.71.01"
    assert domain.parent_of("74") is None
    assert domain.is_kelurahan("74.71.01.1005") and not domain.is_kelurahan("74.01.01.2001")
    for bad in ("7", "74.7", "74.71.01.101", "aa", "74.71.01.1005.1"):
        with pytest.raises(ValueError):
            domain.level_of(bad)
