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
    suppressor_share: float = Field(
        default=0.3,
        gt=0,
        le=1,
        description=(
            "The most of a core the background suppressor takes while events keep arriving: "
            "after a round of T seconds it rests T * (1 - share) / share before the next (a "
            "request for a cube not made yet ends the rest). 1: no rest."
        ),
    )
    cube_max_age_seconds: float = Field(
        default=1,
        ge=0,
        description=(
            "The least time between two background suppressions of one province's cube while "
            "new events keep arriving (0: after every batch). Requests never wait for them: "
            "they read the last cube made, with its `suppressed_as_of`."
        ),
    )
    cube_wait_seconds: float = Field(
        default=0,
        ge=0,
        description=(
            "How long the first request for a cube not made yet may wait for the background "
            "suppression. By default it does not: it is answered at once with every figure "
            "below province level withheld and `suppression.pending` (the dashboard asks "
            "again). Each waiting request would hold one of the gateway's upstream "
            "connections: right after a start at national size, 200 requests a second waiting "
            "5 s each were 504s, and 1 s waits made the first 20 s' p99 1.7 s."
        ),
    )
    cube_memory_mb: int = Field(
        default=96,
        ge=8,
        description="Memory the suppressed cubes kept for requests may take, in MiB; the least "
        "recently used are let go beyond it and made again when asked for (a province-year of "
        "6,000 villages with units takes about 5 MiB).",
    )
    unit_targets: Path = Field(
        default=DEFAULT_TARGETS,
        description="JSON file of yearly unit formation targets, national and per province.",
    )
