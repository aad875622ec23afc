"""Client-case's commands: what an agent or an operator asks over HTTP, or a policy decides
on scheduling's word, as plain frozen data. `handlers.HANDLERS` maps each to its use case;
provinces' facts, which come in partitions' batches, have their own set-based table
(`handlers.provincial.HANDLERS`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from services.client_case.domain.assist import AssistAnswers
from services.client_case.domain.identity import Identity
from shared.contracts.types import (
    AdmissionRoute,
    AftercareSource,
    AssistSubstance,
    CaseStage,
    ClosureOutcome,
    EarlyCompletion,
    Programme,
    ReferralDestinationType,
    ReferralReason,
    ReferralResolution,
    RelapseSource,
)


@dataclass(frozen=True)
class Actor:
    """Who gives a command touching identity: their roles (as given, for the audit) and the
    units they are agents of."""

    actor: str
    units: Sequence[str]


@dataclass(frozen=True)
class RegisterClient:
    unit_id: str
    identity: Identity
    age_band: str | None = None
    sex: str | None = None
    by: Actor | None = None


@dataclass(frozen=True)
class ReadIdentity:
    client_id: str
    reason: str
    by: Actor


@dataclass(frozen=True)
class ChangeIdentity:
    client_id: str
    changes: Identity
    reason: str
    by: Actor


@dataclass(frozen=True)
class EraseClient:
    client_id: str


@dataclass(frozen=True)
class ScreenClient:
    client_id: str
    unit_id: str
    answers: AssistAnswers
    agent_id: str
    programme: Programme
    screened_at: datetime


@dataclass(frozen=True)
class Enrol:
    case_id: str
    route: AdmissionRoute
    on: date
    source: AftercareSource | None = None


@dataclass(frozen=True)
class ChangeStage:
    case_id: str
    to: CaseStage
    on: date


@dataclass(frozen=True)
class Refer:
    case_id: str
    destination: ReferralDestinationType
    reason: ReferralReason
    on: date
    agent_id: str
    facility: str | None = None


@dataclass(frozen=True)
class ResolveReferral:
    referral_id: str
    resolution: ReferralResolution
    on: date


@dataclass(frozen=True)
class CloseCase:
    case_id: str
    outcome: ClosureOutcome
    on: date
    referral_id: str | None = None
    early: EarlyCompletion | None = None


@dataclass(frozen=True)
class ReportRelapse:
    case_id: str
    substances: tuple[AssistSubstance, ...]
    source: RelapseSource
    on: date
    agent_id: str


@dataclass(frozen=True)
class TransferCase:
    case_id: str
    to_unit_id: str
    on: date


Command = (
    RegisterClient
    | ReadIdentity
    | ChangeIdentity
    | EraseClient
    | ScreenClient
    | Enrol
    | ChangeStage
    | Refer
    | ResolveReferral
    | CloseCase
    | ReportRelapse
    | TransferCase
)
