"""A case's course: screening, enrolment, stages, closure, relapse and transfer (referrals:
`referrals.py`);
each stages its canonical event, carrying the pseudonym only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.db import (
    cases,
    clients,
    screenings,
)
from services.client_case.domain import assist, pathway
from services.client_case.domain.pathway import Case, RoutingPolicy
from services.client_case.handlers.common import (
    NotFound,
    case_of_row,
    load_case,
    load_referral,
    require_active_unit,
    require_agent_of,
    save,
    where_of,
)
from services.client_case.handlers.identity import (
    client_row,
    holding_units,
    require_not_erased,
)
from shared.contracts import client_case as events
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AssistSubstance,
    CaseStage,
    ClosureOutcome,
    EarlyCompletion,
    Programme,
    ReferralDestinationType,
    RelapseSource,
)
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations, Violation, check


async def handle_screen_client(
    session: AsyncSession,
    outbox: Outbox,
    *,
    client_id: str,
    unit_id: str,
    answers: assist.AssistAnswers,
    agent_id: str,
    programme: Programme,
    screened_at: datetime,
    routing: Callable[[str], RoutingPolicy],
) -> tuple[Case, assist.ScreeningResult, ReferralDestinationType | None]:
    """Score the ASSIST answers. The first screening opens the client's case in the unit
    (stage `screening`); while the person has an open case in the unit, a screening is a
    re-screening of that case (its risk level follows). Only the unit holding the client may
    screen them. Returns the case, the result, and where the province's routing policy sends
    this level (None: the unit keeps the client)."""
    result = assist.score_screening(answers)
    fields = assist.client_screened_fields(result)
    unit = await require_active_unit(session, unit_id)
    client = await client_row(session, client_id)
    if unit_id not in await holding_units(session, client):
        raise NotFound(f"no client {client_id}")
    require_not_erased(client)
    if screened_at > datetime.now(UTC):
        raise RuleViolations(
            [Violation("screened_at", "not-in-future", "the screening is in the future")]
        )
    await require_agent_of(session, "screener_agent_id", agent_id, unit_id, screened_at.date())
    injecting = result.injected_recently
    open_case = (
        (
            await session.execute(
                select(cases)
                .where(
                    cases.c.client_ref == client["client_ref"],
                    cases.c.unit_id == unit_id,
                    cases.c.stage != CaseStage.CLOSED,
                )
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    if open_case is None:
        case = Case(
            case_id=str(uuid.uuid4()),
            client_id=client_id,
            client_ref=client["client_ref"],
            unit_id=unit_id,
            province_code=unit["province_code"],
            village_code=unit["village_code"],
            stage=CaseStage.SCREENING,
            opened_on=screened_at.date(),
            risk_level=result.overall_level,
            injecting_risk_on=screened_at.date() if injecting else None,
        )
        await session.execute(insert(cases).values(**case.__dict__))
    else:
        case = pathway.screened(
            case_of_row(open_case), result.overall_level, on=screened_at.date(), injecting=injecting
        )
        await save(session, case)
    screening_id = str(uuid.uuid4())
    await session.execute(
        insert(screenings).values(
            screening_id=screening_id,
            case_id=case.case_id,
            rule_set_version=fields["rule_set_version"],
            overall_level=fields["overall_level"],
            injecting=fields["injecting"],
            scores=[s.model_dump(mode="json") for s in fields["scores"]],
            screened_at=screened_at,
            screener_agent_id=agent_id,
        )
    )
    await outbox.add(
        session,
        events.ClientScreened(
            **where_of(case),
            **fields,
            screening_id=screening_id,
            programme=programme,
            screened_at=screened_at,
            screener_agent_id=agent_id,
            age_band=client["age_band"],
            sex=client["sex"],
        ),
    )
    policy = routing(case.province_code)
    return case, result, policy.destination(result.overall_level, injecting=injecting)


async def handle_enrol(
    session: AsyncSession,
    outbox: Outbox,
    case_id: str,
    *,
    route: AdmissionRoute,
    source: AftercareSource | None,
    on: date,
    today: date,
) -> Case:
    case = await load_case(session, case_id, for_update=True)
    enrolled = pathway.enrol(case, route=route, source=source, on=on, today=today)
    await save(session, enrolled)
    client = (
        await session.execute(
            select(clients.c.age_band, clients.c.sex).where(clients.c.client_id == case.client_id)
        )
    ).one()
    assert enrolled.risk_level is not None
    await outbox.add(
        session,
        events.ClientEnrolled(
            **where_of(enrolled),
            enrolled_on=on,
            admission_route=route,
            aftercare_source=source,
            risk_level=enrolled.risk_level,
            age_band=client.age_band,
            sex=client.sex,
        ),
    )
    return enrolled


async def handle_change_stage(
    session: AsyncSession, outbox: Outbox, case_id: str, *, to: CaseStage, on: date, today: date
) -> Case:
    case = await load_case(session, case_id, for_update=True)
    changed = pathway.advance(case, to, on=on, today=today)
    await save(session, changed)
    await outbox.add(
        session,
        events.CaseStageChanged(
            **where_of(changed),
            from_stage=case.stage,
            to_stage=to,
            changed_on=on,
            case_week=changed.week(on),
        ),
    )
    return changed


async def handle_close(
    session: AsyncSession,
    outbox: Outbox,
    case_id: str,
    *,
    outcome: ClosureOutcome,
    on: date,
    referral_id: str | None,
    today: date,
    early: EarlyCompletion | None = None,
) -> Case:
    case = await load_case(session, case_id, for_update=True)
    if referral_id is not None:
        check(
            pathway.ending_referral_problems(
                case, outcome, await load_referral(session, referral_id), "referral_id"
            )
        )
    closed = pathway.close(case, outcome, on=on, today=today, early=early)
    await save(session, closed)
    await outbox.add(
        session,
        events.CaseClosed(
            **where_of(closed),
            outcome=outcome,
            last_stage=case.stage,
            closed_on=on,
            weeks_in_service=pathway.weeks_in_service(case, on),
            referral_id=referral_id,
            early_completion_reason=early,
        ),
    )
    return closed


async def handle_report_relapse(
    session: AsyncSession,
    outbox: Outbox,
    case_id: str,
    *,
    substances: list[AssistSubstance],
    source: RelapseSource,
    on: date,
    agent_id: str,
    today: date,
) -> None:
    case = await load_case(session, case_id)
    require_not_erased(await client_row(session, case.client_id))
    check(
        [Violation("relapsed_on", "not-in-future", "the date is in the future")]
        if on > today
        else []
    )
    await require_agent_of(session, "reported_by_agent_id", agent_id, case.unit_id, on)
    await outbox.add(
        session,
        events.RelapseReported(
            **where_of(case),
            substances=substances,
            source=source,
            stage=case.stage,
            relapsed_on=on,
            reported_by_agent_id=agent_id,
        ),
    )


async def handle_transfer(
    session: AsyncSession,
    outbox: Outbox,
    case_id: str,
    *,
    to_unit_id: str,
    on: date,
    today: date,
) -> Case:
    """The open case moves, with its history, to another active unit."""
    case = await load_case(session, case_id, for_update=True)
    target = await require_active_unit(session, to_unit_id)
    already = await session.execute(
        select(cases.c.case_id).where(
            cases.c.unit_id == to_unit_id,
            cases.c.client_ref == case.client_ref,
            cases.c.stage != CaseStage.CLOSED,
        )
    )
    if already.first() is not None:  # one open case per person per unit
        raise RuleViolations(
            [Violation("to_unit_id", "one-open-case", "the person has an open case there")]
        )
    moved = pathway.transferred(
        case,
        to_unit_id,
        target["province_code"],
        target["village_code"],
        on=on,
        today=today,
        unit_field="to_unit_id",
    )
    await session.execute(
        update(cases)
        .where(cases.c.case_id == case_id)
        .values(
            unit_id=moved.unit_id,
            province_code=moved.province_code,
            village_code=moved.village_code,
            version=moved.version,
        )
    )
    await outbox.add(
        session,
        events.CaseTransferred(
            **where_of(moved),
            from_unit_id=case.unit_id,
            from_province_code=case.province_code,
            stage=case.stage,
            transferred_on=on,
        ),
    )
    return moved
