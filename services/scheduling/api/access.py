"""Who may act on what: agents within their unit, operators over the units they oversee."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import domain, records
from services.scheduling.db import units
from shared.security.roles import Forbidden, Role, parse_roles


def units_of(roles: str | None) -> set[str]:
    return {g.target for g in parse_roles(roles) if g.role is Role.UNIT_AGENT and g.target}


async def agents_session(
    session: AsyncSession, session_id: str, roles: str | None, doing: str
) -> RowMapping:
    row = await records.session_row(session, session_id)
    if row["unit_id"] not in units_of(roles):
        raise Forbidden(f"only an agent of the case's unit {doing}")
    return row


def today_of(row: RowMapping) -> date:
    return domain.local_today(datetime.now(UTC), row["province_code"])


async def seen_unit(session: AsyncSession, unit_id: str, roles: str | None) -> RowMapping:
    unit = (
        (await session.execute(select(units).where(units.c.unit_id == unit_id))).mappings().first()
    )
    if unit is None:
        raise records.NotFound(f"no unit {unit_id}")
    if not sees(roles, unit):
        raise Forbidden("only the unit's agents and the operators over it see it")
    return unit


def sees(roles: str | None, unit: RowMapping) -> bool:
    """The unit's agents, national operators, and the operators of its province or regency."""
    for grant in parse_roles(roles):
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
