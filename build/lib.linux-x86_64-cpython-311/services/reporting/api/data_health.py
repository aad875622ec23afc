"""The data-health route: how current and settled each province's figures are."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from services.reporting.api.common import _allowed
from services.reporting.data_health import data_health
from services.reporting.generations import serving_generation
from services.reporting.queries import WIT, future, known_region
from shared.dependencies import EngineDep, PersonDep
from shared.persistence import snapshot
from shared.rules import check

router = APIRouter()


class RegionHealth(BaseModel):
    region: str = Field(description="A province (or the region asked about when narrower).")
    latest_event_at: AwareDatetime | None = Field(
        description="Data as of: when the latest fact happened (the province's zone)."
    )
    latest_received_at: AwareDatetime | None = Field(
        description="When the latest fact reached the platform."
    )
    received: int = Field(description="Facts whose latest event arrived in the month.")
    late: int = Field(
        description="Of those, facts that happened in an earlier month: each restated a month "
        "already reported."
    )
    restated_months: list[str] = Field(description="The months the late facts restated.")
    median_lag_hours: float | None = Field(
        description="Median hours from a fact happening to its arrival, over the month's facts."
    )
    units_reporting: int = Field(description="Units with a fact that arrived in the month.")
    rejected: int | None = Field(
        description="Submissions the province sent that the platform refused (`EventRejected` "
        "on its receipts topic), by the month of the receipt, each message once; null below "
        "province level, where receipts say nothing (they name the province only)."
    )


class DataHealth(BaseModel):
    month: str = Field(examples=["2026-05"])
    within: str
    rows: list[RegionHealth]


@router.get("/data-health", response_model=DataHealth, tags=["indicators"])
async def health_of_the_data(
    who: PersonDep,
    engine: EngineDep,
    within: Annotated[str, Query(pattern=r"^(\d{2}(\.\d{2}){0,3})?$")] = "",
    month: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")] = None,
) -> dict[str, Any]:
    """How current and settled the figures are: for each province (or the region `within`,
    when narrower), in `month` (default this month): data as of, last arrival, facts arrived,
    late facts and the months they restated, median arrival lag, units reporting, and the
    submissions the province had refused (its rejected receipts)."""
    _allowed(who, within)
    today = datetime.now(UTC).astimezone(WIT).date()
    first = date.fromisoformat(f"{month}-01") if month else today.replace(day=1)
    check(future(first, "month"))
    async with snapshot(engine) as connection:
        generation, _ = await serving_generation(connection)
        check(await known_region(connection, generation, within, "within"))
        rows = await data_health(connection, generation, within, first)
    return {"month": first.strftime("%Y-%m"), "within": within, "rows": rows}
