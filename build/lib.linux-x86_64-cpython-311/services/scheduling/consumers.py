"""What scheduling consumes: the registry's units and agents, client-case's cases, and the
provinces' attendance and activities on their inbound topics (answered with receipts)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.scheduling import batches, domain, handlers
from services.scheduling.commands import Command, RecordActivity, RecordAttendance, RecordMissed
from services.scheduling.settings import Settings
from shared.contracts import client_case, registry
from shared.contracts.base import EventData
from shared.contracts.envelope import Envelope
from shared.contracts.scheduling_inbound import (
    ActivitySubmitted,
    AttendanceSubmitted,
    MissSubmitted,
)
from shared.messaging.consumer import BatchHandler, runs_of
from shared.messaging.inbound.answers import (
    Accepted,
    Answer,
    ApplyBatch,
    Refused,
    Submission,
    rule_reasons,
)
from shared.messaging.outbox import Outbox
from shared.regions import local_today
from shared.runtime import DataRuntime

CONSUMES = [registry.TOPIC, client_case.TOPIC]


def canonical_facts(runtime: DataRuntime[Settings]) -> BatchHandler:
    """Other services' facts, a partition's batch at once: each run of one type set-based
    where the type comes in bulk (units, agents, screenings, enrolments, closures), the rare
    ones (a unit's status, an agent leaving, a case transferred) one by one."""
    settings = runtime.settings
    outbox = runtime.outbox
    templates = domain.load_templates(settings.plan_templates)

    async def handle(db: AsyncSession, envelopes: Sequence[Envelope]) -> None:
        today_in = partial(local_today, datetime.now(UTC))
        rotating = settings.rotating_units
        for run in runs_of(envelopes, registry.IN_BULK):
            facts: list[Any] = [e.data for e in run]
            kind = type(facts[0])
            if kind is registry.UnitFormed:
                await handlers.units_formed(db, facts)
            elif kind is registry.RecoveryAgentAppointed:
                await handlers.agents_appointed(db, facts)
            elif kind is client_case.ClientScreened:
                await handlers.clients_screened(db, facts)
            elif kind is client_case.ClientEnrolled:
                await handlers.clients_enrolled(
                    db,
                    outbox,
                    facts,
                    templates,
                    today_in,
                    settings.missed_after_days,
                    rotating,
                )
            elif kind is client_case.CaseClosed:
                await handlers.cases_closed(db, facts)
            elif kind is client_case.CaseTransferred:
                await handlers.cases_transferred(db, facts, today_in, rotating)
            elif kind is registry.UnitStatusChanged:
                for fact in facts:
                    await handlers.handle_unit_status_changed(
                        db, fact, today_in=today_in, rotating=rotating
                    )
            elif kind is registry.RecoveryAgentDeactivated:
                for fact in facts:
                    await handlers.handle_agent_deactivated(db, fact, rotating=rotating)

    return handle


def command_of(province: str, fact: EventData) -> Command:
    """A province's submission as the command an agent of the unit would give."""
    if isinstance(fact, AttendanceSubmitted):
        return RecordAttendance(
            session_id=fact.session_id,
            unit_id=fact.unit_id,
            held_on=fact.held_on,
            agent_id=fact.agent_id,
            duration_minutes=fact.duration_minutes,
            province=province,
        )
    if isinstance(fact, MissSubmitted):
        return RecordMissed(
            session_id=fact.session_id,
            unit_id=fact.unit_id,
            reason=fact.reason,
            agent_id=fact.agent_id,
            province=province,
        )
    assert isinstance(fact, ActivitySubmitted)
    return RecordActivity(
        unit_id=fact.unit_id,
        activity_type=fact.activity_type,
        held_on=fact.held_on,
        agent_ids=tuple(fact.agent_ids),
        participants=fact.participants,
        participants_female=fact.participants_female,
        people_screened=fact.people_screened,
        submission=(province, fact.submission_id),
    )


def inbound_facts(runtime: DataRuntime[Settings]) -> ApplyBatch:
    """Provinces' attendance and misses (by the session ids of the case's plan) and
    activities, a partition's batch at once through the same use cases as an agent's entries
    (`batches`)."""
    settings = runtime.settings

    async def apply(db: AsyncSession, outbox: Outbox, subs: Sequence[Submission]) -> list[Answer]:
        commands = [command_of(s.province, s.data) for s in subs]
        done = await batches.handle(
            db, outbox, commands, drop_out_after=settings.drop_out_after_misses
        )
        return [
            Refused(rule_reasons(d.error) or [])
            if d.error
            else Accepted(d.event_id or "", created=_created(c, d.result))
            for c, d in zip(commands, done, strict=True)
        ]

    return apply


def _created(command: Command, result: str | None) -> dict[str, str]:
    """The ids a province's fact names or made, echoed on its receipt."""
    if isinstance(command, RecordAttendance | RecordMissed):
        return {"session_id": command.session_id}
    return {"activity_id": result} if result else {}
