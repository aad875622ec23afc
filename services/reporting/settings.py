"""Settings of the reporting service (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from shared.settings import ServiceSettings

SERVICE_NAME = "reporting"
DEFAULT_TARGETS = Path(__file__).with_name("targets.json")


class Settings(ServiceSettings):
    service_name: str = SERVICE_NAME
    projection_batch_size: int = Field(
        default=5000, ge=1, le=100_000, description="Records per projection transaction."
    )
    suppression_k: int = Field(
        default=5,
        ge=2,
        description="Client-derived counts below this, under province level, are withheld.",
    )
    min_units: int = Field(
        default=3,
        ge=1,
        description="Client-derived figures below province level made of fewer units than "
        "this are withheld (the contributor rule).",
    )
    operational_window_months: int = Field(
        default=1,
        ge=1,
        le=12,
        description=(
            "A unit is operational in a month when it held an activity or delivered a service "
            "in this many months ending with it."
        ),
    )
    cube_max_age_seconds: float = Field(
        default=30,
        ge=0,
        description=(
            "How long a province's suppressed cube may serve tables while new events arrive "
            "(0: rebuilt after every batch). Suppressing a large province takes seconds."
        ),
    )
    unit_targets: Path = Field(
        default=DEFAULT_TARGETS,
        description="JSON file of yearly unit formation targets, national and per province.",
    )
