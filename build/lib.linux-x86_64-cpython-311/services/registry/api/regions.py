"""Browsing the region tree (Kemendagri codes)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from services.registry.api.common import (
    Limit,
    Offset,
    RegionPublic,
    RegionReader,
    RegionsPublic,
)
from services.registry.db import regions
from services.registry.domain import (
    NotFound,
)
from shared.dependencies import QueryDep
from shared.http import problem_responses

router = APIRouter()


@router.get("/regions", response_model=RegionsPublic, dependencies=[RegionReader], tags=["regions"])
async def list_regions(
    db: QueryDep,
    level: Annotated[str | None, Query(pattern="^(province|regency|district|village)$")] = None,
    parent: Annotated[str | None, Query(max_length=13)] = None,
    q: Annotated[
        str | None, Query(min_length=2, max_length=100, description="Part of the name, any case.")
    ] = None,
    limit: Limit = 100,
    offset: Offset = 0,
) -> RegionsPublic:
    conditions = []
    if level:
        conditions.append(regions.c.level == level)
    if parent:
        conditions.append(regions.c.parent_code == parent)
    if q:
        conditions.append(func.lower(regions.c.name).contains(q.lower()))
    total = (
        await db.execute(select(func.count()).select_from(regions).where(*conditions))
    ).scalar_one()
    rows = await db.execute(
        select(regions).where(*conditions).order_by(regions.c.code).limit(limit).offset(offset)
    )
    return RegionsPublic(items=[RegionPublic(**r) for r in rows.mappings()], total=total)


@router.get(
    "/regions/{code}",
    response_model=RegionPublic,
    responses=problem_responses(404),
    dependencies=[RegionReader],
    tags=["regions"],
)
async def get_region(code: str, db: QueryDep) -> RegionPublic:
    row = (await db.execute(select(regions).where(regions.c.code == code))).mappings().first()
    if row is None:
        raise NotFound(f"no region {code}")
    return RegionPublic(**row)
