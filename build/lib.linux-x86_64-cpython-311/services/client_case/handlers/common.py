"""What the client-case use cases share: their errors, the keys,
the unit a fact is recorded in (it must exist and be active), and loading and saving a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import cases, known_agents, known_units, referrals
from services.client_case.domain.pathway import Case, Referral
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    CaseStage,
    ClosureOutcome,
    ReferralDestinationType,
    ReferralResolution,
    RiskLevel,
)
from shared.rules import RuleViolations, Violation, check
from shared.security.encryption import KeyRing


class NotFound(LookupError):
    pass


class Gone(Exception):
    """The person's identity was erased."""


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


async def load_case(session: AsyncSession, case_id: str, *, for_update: bool = False) -> Case:
    query = select(cases).where(cases.c.case_id == case_id)
    if for_update:
        query = query.with_for_update()
    row = (await session.execute(query)).mappings().first()
    if row is None:
        raise NotFound(f"no case {case_id}")
    return case_of_row(row)


def case_of_row(row: Any) -> Case:
    return Case(
        case_id=row["case_id"],
        client_id=row["client_id"],
        client_ref=row["client_ref"],
        unit_id=row["unit_id"],
        province_code=row["province_code"],
        village_code=row["village_code"],
        stage=CaseStage(row["stage"]),
        opened_on=row["opened_on"],
        risk_level=RiskLevel(row["risk_level"]) if row["risk_level"] else None,
        admission_route=AdmissionRoute(row["admission_route"]) if row["admission_route"] else None,
        aftercare_source=(
            AftercareSource(row["aftercare_source"]) if row["aftercare_source"] else None
        ),
        enrolled_on=row["enrolled_on"],
        closed_on=row["closed_on"],
        outcome=ClosureOutcome(row["outcome"]) if row["outcome"] else None,
        version=row["version"],
        injecting_risk_on=row["injecting_risk_on"],
    )


async def save(session: AsyncSession, case: Case) -> None:
    await session.execute(
        update(cases)
        .where(cases.c.case_id == case.case_id)
        .values(
            stage=case.stage,
            risk_level=case.risk_level,
            admission_route=case.admission_route,
            aftercare_source=case.aftercare_source,
            enrolled_on=case.enrolled_on,
            closed_on=case.closed_on,
            outcome=case.outcome,
            version=case.version,
            injecting_risk_on=case.injecting_risk_on,
        )
    )


async def load_referral(session: AsyncSession, referral_id: str) -> Referral | None:
    """The referral, locked: an agent's and a province's resolution may race."""
    query = select(referrals).where(referrals.c.referral_id == referral_id).with_for_update()
    row = (await session.execute(query)).mappings().first()
    return referral_of_row(row) if row else None


def referral_of_row(row: Any) -> Referral:
    return Referral(
        row["referral_id"],
        row["case_id"],
        ReferralDestinationType(row["destination_type"]),
        row["referred_on"],
        ReferralResolution(row["resolution"]) if row["resolution"] else None,
        row["resolved_on"],
    )


def where_of(case: Case) -> dict[str, str]:
    return {
        "unit_id": case.unit_id,
        "province_code": case.province_code,
        "village_code": case.village_code,
        "case_id": case.case_id,
        "client_ref": case.client_ref,
    }


Agents = dict[str, tuple[str, date | None]]
"""agent id → (their unit, the day they stopped serving)."""


async def agents_of(session: AsyncSession, agent_ids: set[str]) -> Agents:
    if not agent_ids:
        return {}
    found = await session.execute(
        select(
            known_agents.c.agent_id, known_agents.c.unit_id, known_agents.c.deactivated_on
        ).where(known_agents.c.agent_id.in_(agent_ids))
    )
    return {agent: (unit, gone) for agent, unit, gone in found.tuples()}


def agent_problems(
    known: Agents, field: str, agent_id: str, unit_id: str, on: date
) -> list[Violation]:
    """An agent named on a fact serves the case's unit and had not stopped by that day. An
    agent the registry has not yet told this service of is taken on trust (the registry's
    event may still be on its way)."""
    if agent_id not in known:
        return []
    unit, gone = known[agent_id]
    if unit != unit_id:
        return [Violation(field, "agent-of-unit", "the agent serves another unit")]
    if gone is not None and on >= gone:
        return [Violation(field, "agent-active", f"the agent stopped serving on {gone}")]
    return []


async def require_agent_of(
    session: AsyncSession, field: str, agent_id: str, unit_id: str, on: date
) -> None:
    check(agent_problems(await agents_of(session, {agent_id}), field, agent_id, unit_id, on))
