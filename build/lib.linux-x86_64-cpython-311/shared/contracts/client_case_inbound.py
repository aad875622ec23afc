"""Provincial submissions for client-case, published by provincial systems on
``ibm.inbound.<province>``: screenings (identity sealed to client-case), and then each fact of
the case a screening opened — enrolment, stage changes, referrals and what became of them,
relapses, a transfer to another unit, closure.

`client-case` checks each one as it checks an agent's entry, publishes the canonical event
(`ClientScreened`, `ClientEnrolled`, …) and answers on the province's receipts topic. Every
fact of a case names the case by the `submission_id` of the screening that opened it, which is
also its record key, so a case's facts stay in order; a referral is named by the province's own
`referral_key`.
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
    FacilityCode,
    Programme,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
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
        "GET /identity-key (on the gateway, no token needed), of a JSON object with optional "
        "nik, name, phone, address. A NIK is checked (rules on field identity.nik): 16 digits, "
        "a known region code in digits 1-6, a birth date in digits 7-12 (day + 40 for women) "
        "that is not in the future.",
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
        description="Answers for each of the ten substances a-j: every one needs Q1 "
        "(`ever_used`); the later questions follow the ASSIST skip rules (rule `required` names "
        "a missing answer, `not-asked:<why>` one that must be left out).",
        examples=[
            {
                "tobacco": {"ever_used": False},
                "alcohol": {
                    "ever_used": True,
                    "frequency": "weekly",
                    "urge": "monthly",
                    "problems": "never",
                    "failed_duties": "never",
                    "concern": "never",
                    "cut_down": "never",
                },
                **{
                    substance: {"ever_used": False}
                    for substance in (
                        "cannabis",
                        "cocaine",
                        "amphetamine_type_stimulants",
                        "inhalants",
                        "sedatives",
                        "hallucinogens",
                        "opioids",
                        "other",
                    )
                },
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
    referral_key: EntityId | None = Field(
        default=None,
        description="The province's `referral_key` of the referral that ended the case (a "
        "`ReferralSubmitted` of this case), only with outcome `referred_out`.",
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


_SUBMISSION_ID = Field(
    description="The province's id of the screening that opened the case.",
    examples=["sultra-screening-0000184"],
)
_REFERRAL_KEY_EXAMPLE = "sultra-referral-0000057"


@contract(
    context=CONTEXT,
    name="ReferralSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class ReferralSubmitted(UnitScopedEvent):
    """A provincial system refers a client it screened (its `ScreeningSubmitted`) to another
    service. `client-case` publishes the canonical `ClientReferred` and answers with a receipt
    naming the new `referral_id`; the province names the referral afterwards by its own
    `referral_key` (`ReferralResolutionSubmitted`, `ClosureSubmitted`)."""

    submission_id: EntityId = _SUBMISSION_ID
    referral_key: EntityId = Field(
        description="The province's own id for this referral, unique within the province.",
        examples=[_REFERRAL_KEY_EXAMPLE],
    )
    destination_type: ReferralDestinationType = Field(
        description="Kind of service the client is referred to.", examples=["klinik_pratama"]
    )
    destination_facility: FacilityCode | None = Field(
        default=None,
        description="Code of the receiving facility, when known.",
        examples=["KP-BNNK-74.71"],
    )
    reason: ReferralReason = Field(
        description="Why the client is referred, as a code.", examples=["moderate_risk"]
    )
    referred_on: date = Field(description="Date of the referral.", examples=["2025-05-21"])
    referred_by_agent_id: EntityId = Field(
        description="The unit's agent who made the referral (an agent of the case's unit).",
        examples=["01JB8A3C5E7G9J1K3M5N7P9Q1R"],
    )


@contract(
    context=CONTEXT,
    name="ReferralResolutionSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class ReferralResolutionSubmitted(UnitScopedEvent):
    """A provincial system says what became of a referral it made (its `ReferralSubmitted`):
    accepted by the destination, and then attended, declined or a no-show — each a new
    submission. `client-case` publishes the canonical `ReferralResolved` and answers with a
    receipt."""

    submission_id: EntityId = _SUBMISSION_ID
    referral_key: EntityId = Field(
        description="The province's id of the referral (its `ReferralSubmitted`).",
        examples=[_REFERRAL_KEY_EXAMPLE],
    )
    resolution: ReferralResolution = Field(
        description="What became of the referral: `accepted` may be followed by one of the "
        "others; `attended`, `declined` and `no_show` are final.",
        examples=["attended"],
    )
    resolved_on: date = Field(
        description="Date of the outcome (acceptance, first attendance, refusal, no-show).",
        examples=["2025-05-28"],
    )


@contract(
    context=CONTEXT,
    name="TransferSubmitted",
    version=1,
    topic=INBOUND_TOPIC,
    subject="submission_id",
)
class TransferSubmitted(UnitScopedEvent):
    """A provincial system moves the open case of a client it screened (its
    `ScreeningSubmitted`) to another active unit of the same province (the client moved, or
    another unit is closer). The unit and region fields name the *receiving* unit. The case
    keeps its id, stage and history, and the province goes on naming it by the same
    `submission_id`. `client-case` publishes the canonical `CaseTransferred` and answers with a
    receipt; scheduling moves the remaining sessions to the receiving unit's agents."""

    submission_id: EntityId = _SUBMISSION_ID
    transferred_on: date = Field(
        description="Date the receiving unit took over the case.", examples=["2025-08-04"]
    )
