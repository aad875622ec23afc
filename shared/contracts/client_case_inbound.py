"""Provincial submissions for client-case: screenings (identity sealed to client-case),
enrolments and closures, published by provincial systems on ``ibm.inbound.<province>``.

`client-case` checks each one as it checks an agent's entry, publishes the canonical
`ClientScreened`, `ClientEnrolled` or `CaseClosed`, and answers on the province's receipts
topic. A province refers to its own screening by its `submission_id`.
"""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, Field

from shared.contracts.base import contract
from shared.contracts.client_case import CONTEXT
from shared.contracts.platform import INBOUND_TOPIC
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AgeBand,
    AssistFrequency,
    AssistRecency,
    AssistSubstance,
    CaseStage,
    ClosureOutcome,
    ContractPart,
    EarlyCompletion,
    EntityId,
    Programme,
    RelapseSource,
    Sex,
    UnitScopedEvent,
)


class SubstanceAnswers(ContractPart):
    """ASSIST v3.1 answers for one substance, as answer codes (scores come from the rule set)."""

    ever_used: bool = Field(description="Q1: ever used.", examples=[True])
    frequency: AssistFrequency | None = Field(
        default=None, description="Q2, past 3 months; asked when Q1 is yes.", examples=["weekly"]
    )
    urge: AssistFrequency | None = Field(
        default=None, description="Q3; asked when Q2 is not never.", examples=["monthly"]
    )
    problems: AssistFrequency | None = Field(
        default=None, description="Q4; asked when Q2 is not never.", examples=["never"]
    )
    failed_duties: AssistFrequency | None = Field(
        default=None, description="Q5; not asked for tobacco.", examples=["never"]
    )
    concern: AssistRecency | None = Field(
        default=None, description="Q6; asked when Q1 is yes.", examples=["never"]
    )
    cut_down: AssistRecency | None = Field(
        default=None, description="Q7; asked when Q1 is yes.", examples=["never"]
    )


@contract(
    context=CONTEXT,
    name="ScreeningSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class ScreeningSubmitted(UnitScopedEvent):
    """A provincial system submits a screening it recorded (often offline, delivered late).
    Published by the province on its inbound topic; `client-case` scores it with its rule set,
    records the client and case, publishes the canonical `ClientScreened` and answers on the
    province's receipts topic. Identity travels only inside `identity_sealed`."""

    submission_id: EntityId = Field(
        description="The province system's own id for this screening.",
        examples=["sultra-screening-0000184"],
    )
    identity_sealed: str | None = Field(
        default=None,
        max_length=8192,
        description="Base64 libsodium sealed box, to the public key client-case publishes at "
        "GET /identity-key, of a JSON object with optional nik, name, phone, address.",
        examples=[None],
    )
    province_client_key: EntityId | None = Field(
        default=None,
        description="The province system's stable id for the person when no NIK is given, so "
        "later submissions find the same client. Never published onward.",
        examples=["sultra-person-0000042"],
    )
    programme: Programme = Field(description="SIL or PBM.", examples=["sil"])
    screened_at: AwareDatetime = Field(
        description="When the screening was done, with its UTC offset.",
        examples=["2025-05-20T10:15:00+08:00"],
    )
    screener_agent_id: EntityId = Field(
        description="Pseudonymous id of the agent who screened.",
        examples=["01JB8A3C5E7G9J1K3M5N7P9Q1R"],
    )
    substances: dict[AssistSubstance, SubstanceAnswers] = Field(
        description="Answers for each of the ten substances a-j.",
        examples=[
            {
                "alcohol": {
                    "ever_used": True,
                    "frequency": "weekly",
                    "urge": "monthly",
                    "problems": "never",
                    "failed_duties": "never",
                    "concern": "never",
                    "cut_down": "never",
                }
            }
        ],
    )
    injection: AssistRecency | None = Field(
        default=None,
        description="Q8: injected any drug (asked when any substance was used).",
        examples=["never"],
    )
    age_band: AgeBand | None = Field(
        default=None, description="Coarse age band.", examples=["25-29"]
    )
    sex: Sex | None = Field(default=None, description="Sex, for aggregates.", examples=["male"])


@contract(
    context=CONTEXT,
    name="EnrolmentSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class EnrolmentSubmitted(UnitScopedEvent):
    """A provincial system enrols a client it screened earlier (its `ScreeningSubmitted`).
    `client-case` publishes the canonical `ClientEnrolled` and answers with a receipt."""

    submission_id: EntityId = Field(
        description="The province's id of the screening this enrolment follows.",
        examples=["sultra-screening-0000184"],
    )
    admission_route: AdmissionRoute = Field(
        description="How the client came.", examples=["voluntary"]
    )
    aftercare_source: AftercareSource | None = Field(
        default=None,
        description="The previous service, exactly when the route is aftercare.",
        examples=[None],
    )
    enrolled_on: date = Field(description="Date of initial intake.", examples=["2025-05-27"])


@contract(
    context=CONTEXT,
    name="ClosureSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class ClosureSubmitted(UnitScopedEvent):
    """A provincial system closes the case of a client it screened (its `ScreeningSubmitted`).
    `client-case` publishes the canonical `CaseClosed` and answers with a receipt."""

    submission_id: EntityId = Field(
        description="The province's id of the screening that opened the case.",
        examples=["sultra-screening-0000184"],
    )
    outcome: ClosureOutcome = Field(description="How the case ended.", examples=["completed"])
    closed_on: date = Field(description="Date the case was closed.", examples=["2025-09-09"])
    early_completion_reason: EarlyCompletion | None = Field(
        default=None,
        description=(
            "Why a case is completed before week 16 (screening week included); required "
            "then (rule `early-completion-reason`), and only with outcome `completed`."
        ),
        examples=[None],
    )


@contract(
    context=CONTEXT,
    name="StageChangeSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class StageChangeSubmitted(UnitScopedEvent):
    """A provincial system moves a case it screened (its `ScreeningSubmitted`) to the next
    stage of the pathway (intake → services → aftercare). `client-case` publishes the canonical
    `CaseStageChanged` and answers with a receipt."""

    submission_id: EntityId = Field(
        description="The province's id of the screening that opened the case.",
        examples=["sultra-screening-0000184"],
    )
    to_stage: CaseStage = Field(
        description="The next stage: services after intake, aftercare after services.",
        examples=["services"],
    )
    changed_on: date = Field(
        description="Date the case entered the stage.", examples=["2025-06-03"]
    )


@contract(
    context=CONTEXT,
    name="RelapseSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class RelapseSubmitted(UnitScopedEvent):
    """A provincial system reports a relapse of a client it screened (its `ScreeningSubmitted`),
    during or after the pathway. `client-case` publishes the canonical `RelapseReported` and
    answers with a receipt."""

    submission_id: EntityId = Field(
        description="The province's id of the screening that opened the case.",
        examples=["sultra-screening-0000184"],
    )
    substances: list[AssistSubstance] = Field(
        min_length=1,
        max_length=10,
        description="What the client used again.",
        examples=[["alcohol"]],
    )
    source: RelapseSource = Field(description="Who told the unit.", examples=["family_report"])
    relapsed_on: date = Field(description="Date of the relapse.", examples=["2025-08-12"])
    reported_by_agent_id: EntityId = Field(
        description="The unit's agent who recorded it (an agent of the case's unit).",
        examples=["01JB8A3C5E7G9J1K3M5N7P9Q1R"],
    )
