"""Who may act on what: agents within their unit, operators over the units they oversee."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import records
from services.scheduling.db import units
from shared.security.roles import Forbidden, Grant, Role


def units_of(roles: Sequence[Grant]) -> set[str]:
    return {g.target for g in roles if g.role is Role.UNIT_AGENT and g.target}


async def seen_unit(session: AsyncSession, unit_id: str, roles: Sequence[Grant]) -> RowMapping:
    unit = (
        (await session.execute(select(units).where(units.c.unit_id == unit_id))).mappings().first()
    )
    if unit is None:
        raise records.NotFound(f"no unit {unit_id}")
    if not sees(roles, unit):
        raise Forbidden("only the unit's agents and the operators over it see it")
    return unit


def sees(roles: Sequence[Grant], unit: RowMapping) -> bool:
    """The unit's agents, national operators, and the operators of its province or regency."""
    for grant in roles:
        if grant.role is Role.NATIONAL_OPERATOR:
            return True
        if grant.role is Role.UNIT_AGENT and grant.target == unit["unit_id"]:
            return True
        if grant.role is Role.PROVINCE_OPERATOR and grant.target == unit["province_code"]:
            return True
        if grant.role is Role.DISTRICT_OPERATOR and unit["village_code"].startswith(
            f"{grant.target}."
        ):
            return True
    return False


PLAN_READERS = {
    Role.NATIONAL_OPERATOR,
    Role.PROVINCE_OPERATOR,
    Role.DISTRICT_OPERATOR,
    Role.UNIT_AGENT,
    Role.PROVINCE_SYSTEM,
}


def reads_plans(roles: Sequence[Grant]) -> None:
    """Roles that never read a case's plan are refused before any case is looked up."""
    if not any(g.role in PLAN_READERS for g in roles):
        raise Forbidden("plans are read by agents, operators and provincial systems")


def reads_plan(roles: Sequence[Grant], unit: RowMapping) -> None:
    """A case's plan: for those who see its unit, and the provincial system of its province
    (which names sessions in its attendance and misses). Others are told the case does not
    exist (a case is a record about a person)."""
    if not sees(roles, unit) and not any(
        g.role is Role.PROVINCE_SYSTEM and g.target == unit["province_code"] for g in roles
    ):
        raise records.NotFound(f"no case {unit['case_id']}")  # as if it did not exist
