"""The commands and facts tests build again and again, in one place: each with valid
defaults, and the fields a test cares about given by name."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from services.client_case.domain import assist
from services.registry.commands import AppointAgent, FormUnit
from services.registry.domain import Decree
from shared.contracts import client_case_inbound as provincial
from shared.contracts.types import AgentRole, AssistSubstance, UnitFormation

# --- registry -----------------------------------------------------------------------------

VILLAGE = "74.71.01.1005"
"""A kelurahan of Kota Kendari, Sulawesi Tenggara (province 74)."""


def form_unit(**changes: Any) -> FormUnit:
    """A unit formed in `VILLAGE` under Kendari's BNNK, as an operator forms one."""
    command = FormUnit(
        unit_id="unit-0000000000000001",
        village_code=VILLAGE,
        name="Sinar Madani",
        decree=Decree("141/07/KEL-MDG/2025", date(2025, 3, 10), "lurah"),
        formed_on=date(2025, 3, 14),
        formation=UnitFormation.BNN_TARGET,
        facilitating_office="BNNK-74.71",
    )
    return replace(command, **changes)


def appoint_agent(unit_id: str = "unit-0000000000000001", **changes: Any) -> AppointAgent:
    """A member appointed to the unit by the lurah's decree, after the unit was formed."""
    command = AppointAgent(
        agent_id="agent-000000000000001",
        unit_id=unit_id,
        role=AgentRole.MEMBER,
        decree=Decree("12/SK/2025", date(2025, 4, 1), "lurah"),
        appointed_on=date(2025, 4, 2),
    )
    return replace(command, **changes)


# --- client-case --------------------------------------------------------------------------

HIGH_RISK: dict[str, dict[str, Any]] = {
    "alcohol": {
        "ever_used": True,
        "frequency": "daily",
        "urge": "daily",
        "problems": "daily",
        "failed_duties": "weekly",
        "concern": "past_3_months",
        "cut_down": "never",
    },
    "cannabis": {
        "ever_used": True,
        "frequency": "monthly",
        "urge": "never",
        "problems": "never",
        "failed_duties": "never",
        "concern": "never",
        "cut_down": "never",
    },
    **{
        s: {"ever_used": False}
        for s in (
            "tobacco",
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
"""ASSIST answers, as JSON, that score high (alcohol 35) with cannabis used monthly."""


def assist_answers(
    substances: dict[str, dict[str, Any]] = HIGH_RISK, injection: str | None = "never"
) -> assist.AssistAnswers:
    """JSON answers (as an agent's screen sends them) as the domain's `AssistAnswers`."""
    return assist.AssistAnswers(
        substances={
            AssistSubstance(s): assist.SubstanceAnswers(
                **provincial.SubstanceAnswers.model_validate(a).model_dump()
            )
            for s, a in substances.items()
        },
        injection=assist.Recency(injection) if injection else None,
    )


def screening_submitted(
    unit_id: str, village_code: str, number: int = 1, **changes: Any
) -> provincial.ScreeningSubmitted:
    """A province's screening of a high-risk client in the unit, done now, without identity."""
    fields: dict[str, Any] = {
        "unit_id": unit_id,
        "province_code": village_code[:2],
        "village_code": village_code,
        "submission_id": f"sultra-screening-{number:07d}",
        "programme": "sil",
        "screened_at": datetime.now(UTC),
        "screener_agent_id": "agent-00000000042",
        "substances": HIGH_RISK,
        "injection": "never",
    }
    fields.update(changes)
    return provincial.ScreeningSubmitted.model_validate(fields)
