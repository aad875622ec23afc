"""The indicators' routes: the catalog, an indicator's table for a period (JSON or CSV), and a
count's twelve months; their schemas."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import cube
from services.reporting.answers import answers_of
from services.reporting.api.common import _allowed
from services.reporting.cube import TOTAL, Cell
from services.reporting.figures import REGION, Ask, Period, Row
from services.reporting.generations import serving_generation
from services.reporting.indicators import COUNTS, SPECIAL, STOCKS, count_by_region
from services.reporting.periods import row_of
from services.reporting.queries import (
    future,
    is_client_derived,
    known_region,
    table,
    validate,
)
from services.reporting.settings import Settings
from services.reporting.special.units import definitions
from services.reporting.suppressed_cubes import suppressed_cube
from shared.dependencies import EngineDep, PersonDep, SettingsDep
from shared.rules import Violation, check

router = APIRouter()


class Breakdown(BaseModel):
    values: list[str] = Field(description="The values a figure is broken down into.")
    adds_up_to_total: bool = Field(description="Whether the parts add up to the total.")


class IndicatorSpec(BaseModel):
    name: str
    description: str
    client_derived: bool = Field(description="Withheld when small below province level.")
    breakdowns: dict[str, Breakdown] = Field(description="The dimensions `by` accepts.")


class Figure(BaseModel):
    """One region's figure (one part of it, with `by`); some indicators add fields (e.g. a
    target, a period in a series)."""

    model_config = ConfigDict(extra="allow")
    region: str = Field(description="A Kemendagri code; empty for Indonesia.")
    level: str
    part: str = Field(description="The breakdown's value, or the total.")
    value: int | float | None = Field(description="None when withheld.")
    withheld: bool = Field(description="Withheld to protect people (small or complementary).")
    events: int | None = Field(description="How many distinct events fed it.")
    latest_event_at: AwareDatetime | None = Field(
        description="When the latest fact among them happened (event time: a screening's "
        "instant, or the start of the day of a fact dated by day, in the province's zone)."
    )
    latest_received_at: AwareDatetime | None = Field(
        description="When the latest of them reached the platform."
    )


class Suppression(BaseModel):
    k: int = Field(description="Counts below k are withheld below province level.")
    min_units: int = Field(
        description="Figures made of fewer units are withheld below province level."
    )
    applies: bool
    pending: bool = Field(
        default=False,
        description="The table's suppression has not run yet (right after a start, or for a "
        "period nobody asked for lately): every figure below province level is withheld for "
        "now. Ask again in a moment; suppression runs in the background and never makes a "
        "request wait.",
    )


class IndicatorTable(BaseModel):
    indicator: str
    period: str = Field(examples=["2026", "2026-05", "2024-Q3", "2021..2023"])
    level: str
    within: Figure = Field(description="The region asked about, as a whole.")
    by: str | None
    suppression: Suppression
    rows: list[Figure]
    cohort: str | None = Field(
        default=None, description="Operational and sustained units: the formation years."
    )
    definitions: dict[str, str] | None = Field(
        default=None,
        description="Operational and sustained units: what the `numerator` and the "
        "`denominator` of each row's `share` count, one line each.",
    )
    suppressed_as_of: AwareDatetime | None = Field(
        default=None,
        description="Client-derived tables below province level: when the figures of the "
        "suppressed table were read from the read model (suppression runs in the "
        "background as events arrive; each row cut from it carries the same field). None "
        "elsewhere, and while a table has not been suppressed yet (every figure withheld).",
    )


class IndicatorSeries(BaseModel):
    indicator: str
    region: str
    year: int
    by: str | None
    rows: list[Figure] = Field(description="Each month (and part), with its `period`.")
    suppressed_as_of: AwareDatetime | None = Field(
        default=None,
        description="Below province level: when the suppressed figures were read (see the "
        "tables' field of the same name).",
    )


CSV = {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "As CSV."}


@router.get("/indicators", response_model=list[IndicatorSpec], tags=["indicators"])
async def catalog(_who: PersonDep) -> list[dict[str, Any]]:
    """Every indicator: what it counts, its breakdowns, and whether it is derived from clients
    (withheld when small below province level). For people in any role (a provincial
    system's token is refused)."""
    items = [
        {
            "name": spec.name,
            "description": spec.description,
            "client_derived": spec.client_derived,
            "breakdowns": {
                name: {"values": list(b.values), "adds_up_to_total": b.additive}
                for name, b in spec.breakdowns.items()
            },
        }
        for spec in COUNTS.values()
    ]
    items += [
        {
            "name": name,
            "description": text,
            "client_derived": is_client_derived(name),
            "breakdowns": {},
        }
        for name, text in SPECIAL.items()
    ]
    items += [
        {"name": name, "description": text, "client_derived": True, "breakdowns": {}}
        for name, (_stage, text) in STOCKS.items()
    ]
    return items


def ask_for(
    settings: Settings,
    indicator: str,
    period: str,
    level: str,
    within: str,
    by: str | None,
    cohort: str | None = None,
) -> Ask:
    return Ask(
        indicator=indicator,
        period=Period.parse(period),
        level=level,
        within=within,
        by=by,
        k=settings.suppression_k,
        min_units=settings.min_units,
        window_months=settings.operational_window_months,
        targets=settings.unit_targets,
        cube_max_age=settings.cube_max_age_seconds,
        cohort=Period.parse(cohort, "cohort", years_only=True) if cohort is not None else None,
    )


def _suppressed_as_of(rows: Sequence[Row]) -> datetime | None:
    """The oldest suppression a table's rows were cut from (None: none, or not made yet)."""
    times: list[datetime | None] = [
        r.extra["suppressed_as_of"] for r in rows if "suppressed_as_of" in r.extra
    ]
    known = [t for t in times if t is not None]
    return min(known) if known and len(known) == len(times) else None


def _pending(rows: Sequence[Row]) -> bool:
    """Some of a table's rows were cut from a cube not suppressed yet."""
    return any("suppressed_as_of" in r.extra and r.extra["suppressed_as_of"] is None for r in rows)


def _csv(rows: list[dict[str, Any]]) -> Response:
    out = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8")


@router.get(
    "/indicators/{indicator}",
    tags=["indicators"],
    response_model=None,
    responses={200: {"model": IndicatorTable, **CSV}},
)
async def indicator_table(
    indicator: str,
    who: PersonDep,
    engine: EngineDep,
    settings: SettingsDep[Settings],
    period: str,
    level: str = "province",
    within: str = "",
    by: str | None = None,
    cohort: Annotated[
        str | None,
        Query(
            description="Operational and sustained units: only the units formed in these "
            "years (2021..2023 or 2021), as numerator and denominator.",
            examples=["2021..2023"],
        ),
    ] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> dict[str, Any] | Response:
    """One indicator for a period (`2026`, `2026-05`, `2024-Q3` or `2021..2023`): the region
    `within` (default Indonesia) and its regions at `level`, optionally broken down `by` a
    dimension; operational and sustained units optionally over a `cohort` of formation years."""
    _allowed(who, within)
    ask = ask_for(settings, indicator, period, level, within, by, cohort)
    validate(ask)
    return await indicator_answer(engine, ask, format)


async def indicator_answer(engine: AsyncEngine, ask: Ask, format: str = "json") -> Response:
    """The table `ask` asks for in `format`: the one kept if the read model stands still."""

    async def answer() -> Response:
        async with engine.connect() as connection:
            total, rows = await table(connection, ask)
        return _indicator_answer(ask.indicator, ask.level, ask.by, ask, total, rows, format)

    return await answers_of(engine).answer(engine, ask, (ask, format), answer)


def _indicator_answer(
    indicator: str,
    level: str,
    by: str | None,
    ask: Ask,
    total: Row,
    rows: list[Row],
    format: str,
) -> Response:
    if format == "csv":
        return _csv([r.as_dict() for r in rows])
    answer: dict[str, Any] = {
        "indicator": indicator,
        "period": str(ask.period),
        "level": level,
        "within": total.as_dict(),
        "by": by,
        "suppression": {
            "k": ask.k,
            "min_units": ask.min_units,
            "applies": is_client_derived(indicator),
            "pending": _pending([total, *rows]),
        },
        "rows": [r.as_dict() for r in rows],
    }
    if (as_of := _suppressed_as_of([total, *rows])) is not None:
        answer["suppressed_as_of"] = as_of
    if (described := definitions(ask)) is not None:
        answer["cohort"] = str(ask.cohort) if ask.cohort else None
        answer["definitions"] = described
    return JSONResponse(jsonable_encoder(answer))


@router.get(
    "/indicators/{indicator}/series",
    tags=["indicators"],
    response_model=None,
    responses={200: {"model": IndicatorSeries, **CSV}},
)
async def series(
    indicator: str,
    who: PersonDep,
    engine: EngineDep,
    settings: SettingsDep[Settings],
    year: Annotated[int, Query(ge=2000, le=2100)],
    region: str = "",
    by: str | None = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> dict[str, Any] | Response:
    """A count's twelve months for one region, withheld exactly as its tables are."""
    _allowed(who, region)
    spec = COUNTS.get(indicator)
    if spec is None:
        check([Violation("indicator", "counted", "series exist for the counting indicators")])
    assert spec is not None
    problems = future(date(year, 1, 1), "year")
    if by is not None and by not in spec.breakdowns:
        problems.append(
            Violation("by", "known-breakdown", f"breakdowns: {', '.join(spec.breakdowns)}")
        )
    if not REGION.fullmatch(region):
        problems.append(Violation("region", "region-code", "a Kemendagri code: 74, 74.71, …"))
    check(problems)
    parts = spec.breakdowns[by].values if by else (TOTAL,)
    months = [f"{year}-{m:02d}" for m in range(1, 13)]
    rows: list[Row] = []
    async with engine.connect() as connection:
        generation, _ = await serving_generation(connection)
        check(await known_region(connection, generation, region, "region"))
        if spec.client_derived and cube.below_province(Cell(region, "", TOTAL)):
            c = await suppressed_cube(
                connection,
                spec,
                generation,
                year,
                region.split(".")[0],
                by,
                settings.suppression_k,
                settings.cube_max_age_seconds,
                settings.min_units,
            )
            for month in months:
                for part in parts:
                    row = row_of(c, Cell(region, month, part))
                    row.extra["period"] = month
                    rows.append(row)
        else:
            level = cube.level_of(region)
            for month in months:
                p = Period.parse(month)
                found = {
                    part: (n, e, t, rc)
                    for r, part, n, e, t, rc in await count_by_region(
                        connection, spec, generation, p.start, p.end, level, region, by
                    )
                    if r == region
                }
                for part in parts:
                    n, e, t, rc = found.get(part, (0, 0, None, None))
                    rows.append(Row(region, part, n, False, e, t, {"period": month}, rc))
    if format == "csv":
        return _csv([r.as_dict() for r in rows])
    answer: dict[str, Any] = {
        "indicator": indicator,
        "region": region,
        "year": year,
        "by": by,
        "rows": [r.as_dict() for r in rows],
    }
    if (as_of := _suppressed_as_of(rows)) is not None:
        answer["suppressed_as_of"] = as_of
    return answer
