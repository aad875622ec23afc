"""The 16-week course: enrolment, stage changes, relapses, transfer and closure."""

from __future__ import annotations

from datetime import date

from pydantic import Field, ValidationInfo, field_validator

from shared.contracts.base import contract
from shared.contracts.client_case.common import (
    AGENT_ID_EXAMPLE,
    CASE_ID_EXAMPLE,
    CLIENT_REF_EXAMPLE,
    CONTEXT,
    TOPIC,
)
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AgeBand,
    AssistSubstance,
    CaseStage,
    CaseWeek,
    ClientRef,
    ClosureOutcome,
    EarlyCompletion,
    EntityId,
    ProvinceCode,
    RelapseSource,
    RiskLevel,
    Sex,
    UnitScopedEvent,
    require_different,
)


@contract(context=CONTEXT, name="ClientEnrolled", version=1, topic=TOPIC, subject="case_id")
class ClientEnrolled(UnitScopedEvent):
    """A client was admitted to the unit's community-based recovery (PBM) and the case moved
    to intake. Produced by `client-case`."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    enrolled_on: date = Field(
        description="Date of initial intake (penerimaan awal).",
        examples=["2025-05-27"],
    )
    admission_route: AdmissionRoute = Field(
        description="How the client came: voluntary, compulsory, or aftercare.",
        examples=["aftercare"],
    )
    aftercare_source: AftercareSource | None = Field(
        default=None,
        validate_default=True,
        description="Service the client finished before; set exactly when the route is aftercare.",
        examples=["balai"],
    )
    risk_level: RiskLevel = Field(
        description="Risk level the enrolment is based on.",
        examples=["low"],
    )
    screening_id: EntityId | None = Field(
        default=None,
        description="The screening the enrolment follows, when the unit screened the client.",
        examples=["01JD3K5M7P9R1T3V5X7Z9B1D3G"],
    )
    age_band: AgeBand | None = Field(
        default=None,
        description="Coarse age band of the client, for aggregates only.",
        examples=["25-29"],
    )
    sex: Sex | None = Field(
        default=None,
        description="Sex of the client, for aggregates only.",
        examples=["male"],
    )

    @field_validator("aftercare_source")
    @classmethod
    def _source_iff_aftercare(
        cls, value: AftercareSource | None, info: ValidationInfo
    ) -> AftercareSource | None:
        route = info.data.get("admission_route")
        if route is None:
            return value
        if route == AdmissionRoute.AFTERCARE and value is None:
            raise ValueError("is required when admission_route is aftercare")
        if route != AdmissionRoute.AFTERCARE and value is not None:
            raise ValueError("must be empty unless admission_route is aftercare")
        return value


@contract(context=CONTEXT, name="CaseStageChanged", version=1, topic=TOPIC, subject="case_id")
class CaseStageChanged(UnitScopedEvent):
    """A case moved from one stage of the 16-week course to another. Produced by
    `client-case`. Closing a case is recorded by ``CaseClosed`` (which carries the outcome),
    never by a change to ``closed``, so reporting counts each closure once."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    from_stage: CaseStage = Field(
        description="Stage before the change.",
        examples=["intake"],
    )
    to_stage: CaseStage = Field(
        description="Stage after the change; differs from from_stage and is never closed.",
        examples=["services"],
    )
    changed_on: date = Field(
        description="Date the new stage began.",
        examples=["2025-06-10"],
    )
    case_week: CaseWeek = Field(
        description="Week of the 16-week course in which the change happened (1-16).",
        examples=[4],
    )

    @field_validator("to_stage")
    @classmethod
    def _is_a_change(cls, value: CaseStage, info: ValidationInfo) -> CaseStage:
        if value == CaseStage.CLOSED:
            raise ValueError("a closure is published as CaseClosed, not as a stage change")
        require_different(value, info, "from_stage")
        return value


@contract(context=CONTEXT, name="CaseClosed", version=1, topic=TOPIC, subject="case_id")
class CaseClosed(UnitScopedEvent):
    """A client's case ended, with its outcome. Produced by `client-case`; the case's
    stage becomes ``closed``."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    outcome: ClosureOutcome = Field(
        description="How the case ended.",
        examples=["completed"],
    )
    last_stage: CaseStage = Field(
        description="Stage the case was in when it closed (never closed itself).",
        examples=["aftercare"],
    )
    closed_on: date = Field(
        description="Date the case closed.",
        examples=["2025-09-09"],
    )
    weeks_in_service: int = Field(
        ge=0,
        le=520,
        description="Whole weeks from screening to closure.",
        examples=[16],
    )
    referral_id: EntityId | None = Field(
        default=None,
        description="The referral that ended the case, when the outcome is referred_out.",
        examples=["01JD9W2Y4A6C8E0G2J4K6M8P0R"],
    )
    early_completion_reason: EarlyCompletion | None = Field(
        default=None,
        description=(
            "Why a case is completed before week 16 (screening week included); required "
            "then (rule `early-completion-reason`), and only with outcome `completed`."
        ),
        examples=[None],
    )

    @field_validator("last_stage")
    @classmethod
    def _not_already_closed(cls, value: CaseStage) -> CaseStage:
        if value == CaseStage.CLOSED:
            raise ValueError("must be the stage before closure, not closed")
        return value


@contract(context=CONTEXT, name="RelapseReported", version=1, topic=TOPIC, subject="case_id")
class RelapseReported(UnitScopedEvent):
    """A client in (or after) the unit's care was known to have used again. Produced by
    `client-case` when an agent records it."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    substances: list[AssistSubstance] = Field(
        min_length=1,
        max_length=10,
        description="Substances used in the relapse, each at most once.",
        examples=[["amphetamine_type_stimulants"]],
    )
    source: RelapseSource = Field(
        description="How the relapse became known, as a code.",
        examples=["self_report"],
    )
    stage: CaseStage = Field(
        description="Stage of the case when the relapse was reported.",
        examples=["services"],
    )
    relapsed_on: date = Field(
        description="Date of the relapse as best known (the report date if unknown).",
        examples=["2025-07-19"],
    )
    reported_by_agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who recorded the relapse.",
        examples=[AGENT_ID_EXAMPLE],
    )

    @field_validator("substances")
    @classmethod
    def _unique(cls, value: list[AssistSubstance]) -> list[AssistSubstance]:
        if len(set(value)) != len(value):
            raise ValueError("each substance at most once")
        return value


@contract(context=CONTEXT, name="CaseTransferred", version=1, topic=TOPIC, subject="case_id")
class CaseTransferred(UnitScopedEvent):
    """A client's open case moved to another unit IBM (the client moved, or another unit is
    closer). Produced by `client-case`. The unit and region fields are the *receiving* unit's;
    the case keeps its id, stage and history, so the week count goes on."""

    case_id: EntityId = Field(
        description="Id of the case that moved.",
        examples=[CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[CLIENT_REF_EXAMPLE],
    )
    from_unit_id: EntityId = Field(
        description="The unit that served the case until the transfer.",
        examples=["01JB7Q2M5X9R3T8V6W4Y2Z0A1D"],
    )
    from_province_code: ProvinceCode = Field(
        description="Province of the unit the case left.",
        examples=["74"],
    )
    stage: CaseStage = Field(
        description="Stage of the case at the transfer (it continues there).",
        examples=["services"],
    )
    transferred_on: date = Field(
        description="Date the receiving unit took over the case.",
        examples=["2025-08-04"],
    )
