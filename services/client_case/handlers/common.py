"""What the client-case use cases share: their errors, the identity they handle, the keys,
and the unit a fact is recorded in (it must exist and be active)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import known_units
from shared.rules import RuleViolations, Violation
from shared.security.encryption import KeyRing


class NotFound(LookupError):
    pass


class Gone(Exception):
    """The person's identity was erased."""


@dataclass(frozen=True)
class Identity:
    """What a unit may know of a person. Every field optional: anonymous service is allowed."""

    nik: str | None = None
    name: str | None = None
    phone: str | None = None
    address: str | None = None

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass(frozen=True)
class Keys:
    ring: KeyRing
    pseudonym_key: bytes


async def require_active_unit(session: AsyncSession, unit_id: str) -> dict[str, Any]:
    unit = (
        (await session.execute(select(known_units).where(known_units.c.unit_id == unit_id)))
        .mappings()
        .first()
    )
    if unit is None:
        raise RuleViolations(
            [Violation("unit_id", "unit-exists", "the registry has published no such unit")]
        )
    if unit["status"] != "active":
        raise RuleViolations([Violation("unit_id", "unit-active", f"the unit is {unit['status']}")])
    return dict(unit)
