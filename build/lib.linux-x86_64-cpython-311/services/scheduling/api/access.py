"""Who may act on what: agents within their unit, operators over the units they oversee."""

from __future__ import annotations

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import records
from services.scheduling.db import units
from shared.security.roles import Caller, Forbidden, Role


async def seen_unit(db: AsyncSession, unit_id: str, who: Caller) -> RowMapping:
    unit = (await db.execute(select(units).where(units.c.unit_id == unit_id))).mappings().first()
    if unit is None:
        raise records.NotFound(f"no unit {unit_id}")
    if not sees(who, unit):
        raise Forbidden("only the unit's agents and the operators over it see it")
    return unit


def sees(who: Caller, unit: RowMapping) -> bool:
    """The unit's agents, national operators, and the operators of its province or regency."""
    return unit["unit_id"] in who.units or who.oversees(unit["village_code"])


PLAN_READERS = {
    Role.NATIONAL_OPERATOR,
    Role.PROVINCE_OPERATOR,
    Role.DISTRICT_OPERATOR,
    Role.UNIT_AGENT,
    Role.PROVINCE_SYSTEM,
}


def reads_plans(who: Caller) -> None:
    """Roles that never read a case's plan are refused before any case is looked up."""
    if not who.roles & PLAN_READERS:
        raise Forbidden("plans are read by agents, operators and provincial systems")


def reads_plan(who: Caller, unit: RowMapping) -> None:
    """A case's plan: for those who see its unit, and the provincial system of its province
    (which names sessions in its attendance and misses). Others are told the case does not
    exist (a case is a record about a person)."""
    if not sees(who, unit) and unit["province_code"] not in who.provinces:
        raise records.NotFound(f"no case {unit['case_id']}")  # as if it did not exist
