"""Settings of the scheduling service (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.scheduling.domain import DEFAULT_TEMPLATES
from shared.settings import ServiceSettings

SERVICE_NAME = "scheduling"


class Settings(ServiceSettings):
    service_name: str = SERVICE_NAME
    plan_templates: Path = Field(
        default=DEFAULT_TEMPLATES, description="JSON file of case plan templates."
    )
    missed_after_days: int = Field(
        default=7, ge=0, description="Days past the due date before a session is missed."
    )
    sweep_interval_seconds: float = Field(
        default=60, gt=0, description="How often the sweeper looks at the clock."
    )
    drop_out_after_misses: int = Field(
        default=3, ge=1, description="Consecutive misses that flag a case."
    )
    rotating_units: frozenset[str] = Field(
        default=frozenset(),
        description="Units that prefer their agents to take a case's sessions in turn. Every "
        "other unit gives each case one primary agent who holds all its sessions.",
    )
