"""Client-case contracts: screening, enrolment, the 16-week course, referral and closure.

Produced by the `client-case` service on ``ibm.client-case``. Every event is keyed by
``case_id``. The service opens a case (stage ``screening``) when it records a screening, so
``ClientScreened`` already has a case id and a client's screening, enrolment, stages,
referrals and closure stay ordered on one partition; a screening that leads nowhere leaves a
case that is closed later. Keying screenings by a separate screening id would let
``ClientEnrolled`` overtake the screening it follows.

No event here carries a direct identifier: a client is only a ``client_ref`` pseudonym, an
agent only an ``agent_id``, and the region is the unit's village, not the client's home.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from shared.contracts.base import contract
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AgeBand,
    AssistSubstance,
    CaseStage,
    CaseWeek,
    ClientRef,
    ClosureOutcome,
    ContractPart,
    EarlyCompletion,
    EntityId,
    FacilityCode,
    Programme,
    ProvinceCode,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
    RelapseSource,
    RiskLevel,
    RuleSetVersion,
    Sex,
    UnitScopedEvent,
    require_different,
)

CONTEXT = "client-case"
TOPIC = "ibm.client-case"

_CLIENT_REF_EXAMPLE = "9f2c4e7a1b3d5f6087a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4d5e6f"
_CASE_ID_EXAMPLE = "01JD3K5M7P9R1T3V5X7Z9B1D3F"
_AGENT_ID_EXAMPLE = "01JB8A3C5E7G9J1K3M5N7P9Q1R"


class SubstanceScore(ContractPart):
    """One substance's ASSIST result: the involvement score and the level it falls in."""

    substance: AssistSubstance = Field(
        description="ASSIST substance class (items a-j).",
        examples=["amphetamine_type_stimulants"],
    )
    score: int = Field(
        ge=0,
        le=39,
        description="Specific substance involvement score, Q2+Q3+Q4+Q5+Q6+Q7 (0-39).",
        examples=[14],
    )
    level: RiskLevel = Field(
        description="Risk level of this score under the rule set named on the event.",
        examples=["moderate"],
    )


@contract(context=CONTEXT, name="ClientScreened", version=1, topic=TOPIC, subject="case_id")
class ClientScreened(UnitScopedEvent):
    """An agent or officer administered WHO ASSIST to a client. Produced by `client-case`
    when it records the result; opens the case in stage ``screening``."""

    case_id: EntityId = Field(
        description="Id of the case the screening opened (or belongs to, for a re-screening).",
        examples=[_CASE_ID_EXAMPLE],
    )
    screening_id: EntityId = Field(
        description="Id of this screening; a case may have several (re-screening).",
        examples=["01JD3K5M7P9R1T3V5X7Z9B1D3G"],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client (64 hex chars, keyed HMAC-SHA256).",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    programme: Programme = Field(
        description="Sub-programme of the screening: SIL field screening or PBM in the unit.",
        examples=["pbm"],
    )
    rule_set_version: RuleSetVersion = Field(
        description="Version of the ASSIST rule set that scored the answers.",
        examples=["assist-3.1/2026.1"],
    )
    scores: list[SubstanceScore] = Field(
        max_length=10,
        description=(
            "Score and level per substance the client ever used (Q1 yes), each substance at "
            "most once; substances never used are left out. Empty when none was ever used."
        ),
        examples=[
            [
                {"substance": "tobacco", "score": 3, "level": "low"},
                {"substance": "amphetamine_type_stimulants", "score": 14, "level": "moderate"},
            ]
        ],
    )
    overall_level: RiskLevel = Field(
        description="The client's overall level: the highest substance level (low if none).",
        examples=["moderate"],
    )
    injecting: bool = Field(
        description="Q8: the client has ever injected a drug (flags injecting risk).",
        examples=[False],
    )
    injected_past_3_months: bool | None = Field(
        default=None,
        description="Q8 answered 'yes, in the past 3 months', which calls for the injecting-"
        "risk intervention; null from producers that do not send it (added within v1).",
        examples=[False],
    )
    screened_at: AwareDatetime = Field(
        description="When the screening took place, with its UTC offset.",
        examples=["2025-05-20T10:15:00+08:00"],
    )
    screener_agent_id: EntityId = Field(
        description="Pseudonymous id of the agent or officer who administered ASSIST.",
        examples=[_AGENT_ID_EXAMPLE],
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

    @field_validator("scores")
    @classmethod
    def _one_score_per_substance(cls, value: list[SubstanceScore]) -> list[SubstanceScore]:
        seen: set[AssistSubstance] = set()
        for item in value:
            if item.substance in seen:
                raise ValueError(f"substance {item.substance.value} is scored twice")
            seen.add(item.substance)
        return value

    @field_validator("overall_level")
    @classmethod
    def _overall_is_highest(cls, value: RiskLevel, info: ValidationInfo) -> RiskLevel:
        scores: list[SubstanceScore] | None = info.data.get("scores")
        if scores is None:  # scores already failed; that error names its own field
            return value
        highest = max((s.level for s in scores), key=lambda lvl: lvl.rank, default=RiskLevel.LOW)
        if value != highest:
            raise ValueError(f"must be the highest substance level ({highest.value})")
        return value


@contract(context=CONTEXT, name="ClientEnrolled", version=1, topic=TOPIC, subject="case_id")
class ClientEnrolled(UnitScopedEvent):
    """A client was admitted to the unit's community-based recovery (PBM) and the case moved
    to intake. Produced by `client-case`."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
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
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
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


@contract(context=CONTEXT, name="ClientReferred", version=1, topic=TOPIC, subject="case_id")
class ClientReferred(UnitScopedEvent):
    """The unit referred a client to another service (clinic, residential care, hospital,
    IPWL). Produced by `client-case`; its outcome follows as ``ReferralResolved``."""

    referral_id: EntityId = Field(
        description="Id of this referral.",
        examples=["01JD9W2Y4A6C8E0G2J4K6M8P0R"],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    destination_type: ReferralDestinationType = Field(
        description="Kind of service the client is referred to.",
        examples=["klinik_pratama"],
    )
    destination_facility: FacilityCode | None = Field(
        default=None,
        description="Code of the receiving facility, when known.",
        examples=["KP-BNNK-74.71"],
    )
    reason: ReferralReason = Field(
        description="Why the client was referred, as a code.",
        examples=["moderate_risk"],
    )
    risk_level: RiskLevel = Field(
        description="The client's risk level at the time of referral.",
        examples=["moderate"],
    )
    referred_on: date = Field(
        description="Date of the referral.",
        examples=["2025-05-21"],
    )
    referred_by_agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who made the referral.",
        examples=[_AGENT_ID_EXAMPLE],
    )


@contract(context=CONTEXT, name="ReferralResolved", version=1, topic=TOPIC, subject="case_id")
class ReferralResolved(UnitScopedEvent):
    """The unit learned what became of a referral. Produced by `client-case`; a referral may
    resolve in steps (accepted, then attended), each a new event."""

    referral_id: EntityId = Field(
        description="Id of the referral this resolves.",
        examples=["01JD9W2Y4A6C8E0G2J4K6M8P0R"],
    )
    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
    )
    destination_type: ReferralDestinationType = Field(
        description="Kind of service the client was referred to (repeated for reporting).",
        examples=["klinik_pratama"],
    )
    resolution: ReferralResolution = Field(
        description="What became of the referral.",
        examples=["attended"],
    )
    resolved_on: date = Field(
        description="Date of the outcome (acceptance, first attendance, refusal, no-show).",
        examples=["2025-05-28"],
    )


@contract(context=CONTEXT, name="CaseClosed", version=1, topic=TOPIC, subject="case_id")
class CaseClosed(UnitScopedEvent):
    """A client's case ended, with its outcome. Produced by `client-case`; the case's
    stage becomes ``closed``."""

    case_id: EntityId = Field(
        description="Id of the client's case.",
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
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
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
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
        examples=[_AGENT_ID_EXAMPLE],
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
        examples=[_CASE_ID_EXAMPLE],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client.",
        examples=[_CLIENT_REF_EXAMPLE],
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
