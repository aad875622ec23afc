"""The screening: WHO ASSIST administered to a client, which opens the case."""

from __future__ import annotations

from pydantic import AwareDatetime, Field, ValidationInfo, field_validator

from shared.contracts.base import contract
from shared.contracts.client_case.common import (
    AGENT_ID_EXAMPLE,
    CASE_ID_EXAMPLE,
    CLIENT_REF_EXAMPLE,
    CONTEXT,
    TOPIC,
)
from shared.contracts.types import (
    AgeBand,
    AssistSubstance,
    ClientRef,
    ContractPart,
    EntityId,
    Programme,
    RiskLevel,
    RuleSetVersion,
    Sex,
    UnitScopedEvent,
)


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
        examples=[CASE_ID_EXAMPLE],
    )
    screening_id: EntityId = Field(
        description="Id of this screening; a case may have several (re-screening).",
        examples=["01JD3K5M7P9R1T3V5X7Z9B1D3G"],
    )
    client_ref: ClientRef = Field(
        description="Pseudonym of the client (64 hex chars, keyed HMAC-SHA256).",
        examples=[CLIENT_REF_EXAMPLE],
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
        examples=[AGENT_ID_EXAMPLE],
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
