"""Composition root of the registry service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from sqlalchemy import select

from services.registry.api import install_error_handlers, router
from services.registry.consumers import inbound_facts
from services.registry.db import MIGRATIONS, metadata, platform, regions
from services.registry.regions import RegionSource, load_regions
from services.registry.settings import SERVICE_NAME, Settings
from shared.messaging.inbound.origin import INBOUND_PATTERN
from shared.runtime import DataRuntime, ServiceSpec, create_app

log = logging.getLogger(__name__)


async def seed_regions(runtime: DataRuntime[Settings]) -> None:
    """A fresh database gets the official region tree, so `make run` works from nothing."""
    settings = runtime.settings
    if not settings.load_regions_on_start:
        return
    async with runtime.engine.connect() as connection:
        if (await connection.execute(select(regions.c.code).limit(1))).first() is not None:
            return
    report = await load_regions(
        runtime.engine, RegionSource.installed(), bnnk_regencies=settings.bnnk
    )
    log.info(
        "loaded %s regions (%s) in %.1fs",
        sum(report.counts.values()),
        report.edition,
        report.seconds,
    )


SPEC = ServiceSpec[Settings](
    name=SERVICE_NAME,
    metadata=metadata,
    platform=platform,
    migrations_dir=MIGRATIONS,
    routers=[router],
    consumes_patterns=[INBOUND_PATTERN],
    inbound_factory=inbound_facts,
    on_start=seed_regions,
    configure_app=install_error_handlers,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(DataRuntime(SPEC, settings or Settings()))
