"""Composition root of the scheduling service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.scheduling import sweeper
from services.scheduling.api import install_error_handlers, router
from services.scheduling.consumers import CONSUMES, canonical_facts, inbound_facts
from services.scheduling.db import MIGRATIONS, metadata, platform
from services.scheduling.settings import SERVICE_NAME, Settings
from shared.messaging.inbound.origin import INBOUND_PATTERN
from shared.runtime import DataRuntime, ServiceSpec, create_app


async def run_sweeper(runtime: DataRuntime[Settings], stop: asyncio.Event) -> None:
    settings = runtime.settings
    await sweeper.run(
        runtime,
        stop,
        interval=settings.sweep_interval_seconds,
        grace_days=settings.missed_after_days,
        drop_out_after=settings.drop_out_after_misses,
    )


SPEC = ServiceSpec[Settings](
    name=SERVICE_NAME,
    metadata=metadata,
    platform=platform,
    migrations_dir=MIGRATIONS,
    consumes=CONSUMES,
    consumes_patterns=[INBOUND_PATTERN],
    batch_handler_factory=canonical_facts,
    inbound_factory=inbound_facts,
    background=[run_sweeper],
    routers=[router],
    configure_app=install_error_handlers,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(DataRuntime(SPEC, settings or Settings()))
