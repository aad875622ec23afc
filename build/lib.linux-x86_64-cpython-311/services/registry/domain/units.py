"""Units IBM: forming them, their status and their funding."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

from services.registry.domain.errors import Conflict
from services.registry.domain.regions import (
    RegionLevel,
    Scope,
    level_of_or_none,
    office_region,
    province_of,
)
from shared.contracts.types import (
    UnitFormation,
    UnitStatus,
)
from shared.rules import Violation, check

if TYPE_CHECKING:
    from services.registry.commands import ChangeUnitStatus, FormUnit, RecordFunding


@dataclass(frozen=True)
class Decree:
    """A Surat Keputusan: its number, the date signed, and the signing office (not a name)."""

    number: str
    signed_on: date
    signatory: str  # the office that signed: "kepala_desa", "lurah", "camat", …


@dataclass(frozen=True)
class Unit:
    unit_id: str
    village_code: str
    name: str
    decree: Decree
    formed_on: date
    formation: UnitFormation
    facilitating_office: str
    status: UnitStatus = UnitStatus.ACTIVE
    status_since: date | None = None
    version: int = 1

    @property
    def province_code(self) -> str:
        return province_of(self.village_code)


@dataclass(frozen=True)
class VillageFacts:
    """What the registry knows around a village when a unit is formed there."""

    exists: bool
    active_units: int
    office_exists: bool


def form_unit(cmd: FormUnit, facts: VillageFacts, *, scope: Scope, today: date) -> Unit:
    """Decide a unit's formation: the village exists and is in the actor's scope, one active
    unit per village unless explicitly allowed, decree complete, dates not in the future, the
    facilitating office exists and covers the village."""
    v: list[Violation] = []
    if level_of_or_none(cmd.village_code) is not RegionLevel.VILLAGE:
        v.append(Violation("village_code", "village-code", "must be a 10-digit village code"))
    elif not facts.exists:
        v.append(
            Violation(
                "village_code",
                "exists",
                "no such village in the official region list",
            )
        )
    if not scope.covers(cmd.village_code):
        v.append(Violation("village_code", "in-scope", "the village is outside your region"))
    if facts.active_units and not cmd.allow_second_unit:
        v.append(
            Violation(
                "village_code",
                "one-active-unit-per-village",
                "the village already has an active unit; set allow_second_unit to form another",
            )
        )
    if not cmd.name.strip():
        v.append(Violation("name", "required", "the unit needs a display name"))
    if not cmd.decree.number.strip():
        v.append(Violation("decree.number", "required", "the forming decree's number"))
    if not cmd.decree.signatory.strip():
        v.append(Violation("decree.signatory", "required", "who signed the decree"))
    if cmd.decree.signed_on > today:
        v.append(Violation("decree.signed_on", "not-in-future", "the decree date is in the future"))
    if cmd.formed_on > today:
        v.append(Violation("formed_on", "not-in-future", "the formation date is in the future"))
    if cmd.formed_on < cmd.decree.signed_on:
        v.append(
            Violation(
                "formed_on",
                "on-or-after-decree",
                "a unit is formed on or after its decree is signed",
            )
        )
    region = office_region(cmd.facilitating_office)
    if region is None:
        v.append(Violation("facilitating_office", "office-code", "BNNP-<prov> or BNNK-<regency>"))
    elif not cmd.village_code.startswith(f"{region}."):
        v.append(
            Violation(
                "facilitating_office",
                "covers-village",
                "the office does not cover the village",
            )
        )
    elif not facts.office_exists:
        v.append(Violation("facilitating_office", "exists", "no such office"))
    check(v)
    return Unit(
        unit_id=cmd.unit_id,
        village_code=cmd.village_code,
        name=cmd.name.strip(),
        decree=cmd.decree,
        formed_on=cmd.formed_on,
        formation=cmd.formation,
        facilitating_office=cmd.facilitating_office,
        status_since=cmd.formed_on,
    )


# Which status changes make sense; a revival is a change back to active.
ALLOWED_STATUS_CHANGES = {
    UnitStatus.ACTIVE: {UnitStatus.SUSPENDED, UnitStatus.DISSOLVED},
    UnitStatus.SUSPENDED: {UnitStatus.ACTIVE, UnitStatus.DISSOLVED},
    UnitStatus.DISSOLVED: {UnitStatus.ACTIVE},
}


def change_status(
    unit: Unit, cmd: ChangeUnitStatus, *, scope: Scope, today: date, active_units_in_village: int
) -> Unit:
    _check_version(unit.version, cmd.expected_version)
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("unit_id", "in-scope", "the unit is outside your region"))
    if cmd.to_status not in ALLOWED_STATUS_CHANGES[unit.status]:
        v.append(
            Violation(
                "to_status",
                "allowed-transition",
                f"a {unit.status} unit cannot become {cmd.to_status}",
            )
        )
    if cmd.effective_on > today:
        v.append(Violation("effective_on", "not-in-future", "the change cannot take effect later"))
    if unit.status_since and cmd.effective_on < unit.status_since:
        v.append(
            Violation(
                "effective_on",
                "after-last-change",
                f"the unit's status last changed on {unit.status_since}",
            )
        )
    if cmd.to_status is UnitStatus.ACTIVE and active_units_in_village:
        v.append(
            Violation(
                "to_status", "one-active-unit-per-village", "another unit is active in this village"
            )
        )
    check(v)
    return replace(
        unit, status=cmd.to_status, status_since=cmd.effective_on, version=unit.version + 1
    )


def _check_version(current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise Conflict(f"the unit is at version {current}, not {expected}")


def record_funding(unit: Unit, cmd: RecordFunding, *, scope: Scope, today: date) -> None:
    v: list[Violation] = []
    if not scope.covers(unit.village_code):
        v.append(Violation("unit_id", "in-scope", "the unit is outside your region"))
    if cmd.fiscal_year > today.year + 1:
        v.append(
            Violation(
                "fiscal_year",
                "not-beyond-next-year",
                "funding is recorded for this year or the next at the latest",
            )
        )
    if cmd.fiscal_year < unit.formed_on.year:
        v.append(
            Violation(
                "fiscal_year",
                "not-before-formation",
                f"the unit was formed in {unit.formed_on.year}",
            )
        )
    if cmd.amount_idr < 0:
        v.append(Violation("amount_idr", "non-negative", "an amount cannot be negative"))
    check(v)
