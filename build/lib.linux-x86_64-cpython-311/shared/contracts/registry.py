"""Registry contracts: units IBM, their status and funding, and their recovery agents.

Produced by the `registry` service on ``ibm.registry``. Every event here is keyed by
``unit_id``, agent events included, so one unit's whole history (formation, team, status,
funding) stays ordered on one partition.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field, ValidationInfo, field_validator

from shared.contracts.base import contract
from shared.contracts.types import (
    AgentDeactivationReason,
    AgentRole,
    DecreeNumber,
    EntityId,
    FiscalYear,
    FundingSource,
    OfficeCode,
    TrainingKind,
    UnitFormation,
    UnitScopedEvent,
    UnitStatus,
    UnitStatusReason,
    require_different,
)

CONTEXT = "registry"
TOPIC = "ibm.registry"


@contract(context=CONTEXT, name="UnitFormed", version=1, topic=TOPIC, subject="unit_id")
class UnitFormed(UnitScopedEvent):
    """A village head formed a unit IBM by decree (SK). Produced by `registry` when the
    formation is recorded; the unit starts ``active``."""

    unit_name: str = Field(
        min_length=1,
        max_length=100,
        description="The unit's own display name, distinct from the village name.",
        examples=["Sinar Madani"],
    )
    formed_on: date = Field(
        description="Date the unit was formed (the decree's effective date).",
        examples=["2025-03-14"],
    )
    decree_number: DecreeNumber = Field(
        description="Number of the village head's or lurah's forming decree (SK).",
        examples=["141/07/KEL-MDG/2025"],
    )
    decree_date: date = Field(
        description="Date the forming decree was signed.",
        examples=["2025-03-10"],
    )
    formation: UnitFormation = Field(
        description="Whether the unit counts against BNN's national target or is self-formed.",
        examples=["bnn_target"],
    )
    facilitating_office: OfficeCode = Field(
        description="The BNNP or BNNK office that facilitates and supervises the unit.",
        examples=["BNNK-74.71"],
    )


@contract(context=CONTEXT, name="UnitStatusChanged", version=1, topic=TOPIC, subject="unit_id")
class UnitStatusChanged(UnitScopedEvent):
    """A unit's administrative status changed: suspended, dissolved, or revived (back to
    ``active``). Produced by `registry` on a facilitator's or village head's decision."""

    from_status: UnitStatus = Field(
        description="Status before the change.",
        examples=["active"],
    )
    to_status: UnitStatus = Field(
        description="Status after the change; differs from from_status.",
        examples=["suspended"],
    )
    reason: UnitStatusReason = Field(
        description="Why the status changed, as a code.",
        examples=["no_activity"],
    )
    effective_on: date = Field(
        description="Date from which the new status holds.",
        examples=["2026-01-05"],
    )

    @field_validator("to_status")
    @classmethod
    def _is_a_change(cls, value: UnitStatus, info: ValidationInfo) -> UnitStatus:
        require_different(value, info, "from_status")
        return value


@contract(context=CONTEXT, name="UnitFundingRecorded", version=1, topic=TOPIC, subject="unit_id")
class UnitFundingRecorded(UnitScopedEvent):
    """Funding for a unit for one year from one source was recorded. Produced by `registry`;
    a unit may have several records per year (one per source or allocation)."""

    funding_id: EntityId = Field(
        description="Id of this funding record, to tell corrections from new allocations.",
        examples=["01JC2V8N4K6P1R7S3T5W9X0Y2Z"],
    )
    fiscal_year: FiscalYear = Field(
        description="Year the funding is for.",
        examples=[2025],
    )
    source: FundingSource = Field(
        description="Where the money comes from.",
        examples=["dana_desa"],
    )
    amount_idr: int = Field(
        ge=0,
        description="Amount in whole rupiah (IDR).",
        examples=[25_000_000],
    )


@contract(context=CONTEXT, name="RecoveryAgentAppointed", version=1, topic=TOPIC, subject="unit_id")
class RecoveryAgentAppointed(UnitScopedEvent):
    """A resident was appointed recovery agent (agen pemulihan) of a unit by the village
    head's decree. Produced by `registry`. The agent appears only by a pseudonymous id."""

    agent_id: EntityId = Field(
        description="Pseudonymous id of the recovery agent; no name or NIK travels.",
        examples=["01JB8A3C5E7G9J1K3M5N7P9Q1R"],
    )
    role: AgentRole = Field(
        description="The agent's role in the unit's team.",
        examples=["member"],
    )
    appointed_on: date = Field(
        description="Date the appointment takes effect.",
        examples=["2025-03-14"],
    )
    decree_number: DecreeNumber = Field(
        description="Number of the appointing decree (SK).",
        examples=["141/08/KEL-MDG/2025"],
    )
    decree_date: date = Field(
        description="Date the appointing decree was signed.",
        examples=["2025-03-10"],
    )


@contract(context=CONTEXT, name="RecoveryAgentTrained", version=1, topic=TOPIC, subject="unit_id")
class RecoveryAgentTrained(UnitScopedEvent):
    """A unit's recovery agent completed a training given by a BNNP or BNNK office.
    Produced by `registry` when the facilitator records the completion."""

    agent_id: EntityId = Field(
        description="Pseudonymous id of the recovery agent.",
        examples=["01JB8A3C5E7G9J1K3M5N7P9Q1R"],
    )
    training_id: EntityId = Field(
        description="Id of the training batch (angkatan) the agent attended.",
        examples=["01JA4F6H8K0M2P4R6T8V0X2Z4B"],
    )
    training_kind: TrainingKind = Field(
        description="Kind of training completed.",
        examples=["basic"],
    )
    trainer_office: OfficeCode = Field(
        description="The BNNP or BNNK office that gave the training.",
        examples=["BNNP-74"],
    )
    completed_on: date = Field(
        description="Date the agent completed the training.",
        examples=["2025-04-02"],
    )
    hours: int | None = Field(
        default=None,
        ge=1,
        le=500,
        description="Training hours (jam pelajaran) completed, when known.",
        examples=[32],
    )


@contract(
    context=CONTEXT, name="RecoveryAgentDeactivated", version=1, topic=TOPIC, subject="unit_id"
)
class RecoveryAgentDeactivated(UnitScopedEvent):
    """A recovery agent stopped serving in a unit. Produced by `registry`; the unit's team
    size is whatever appointments minus deactivations leave, never a fixed number."""

    agent_id: EntityId = Field(
        description="Pseudonymous id of the recovery agent.",
        examples=["01JB8A3C5E7G9J1K3M5N7P9Q1R"],
    )
    deactivated_on: date = Field(
        description="Date from which the agent no longer serves.",
        examples=["2026-02-01"],
    )
    reason: AgentDeactivationReason = Field(
        description="Why the agent stopped, as a code.",
        examples=["moved_away"],
    )


IN_BULK = (UnitFormed, RecoveryAgentAppointed, RecoveryAgentTrained, UnitFundingRecorded)
"""What a registry publishes in bulk: a province's villages, each a unit, its team and their
trainings. A consumer that keeps at most units and agents, each inserted if absent (an agent
needing only its unit), may apply a stretch of them a type at a time, in this order
(`shared.messaging.consumer.runs_of`): client-case and scheduling do."""
