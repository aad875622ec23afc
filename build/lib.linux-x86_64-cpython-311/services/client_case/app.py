"""Composition root of the client-case service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

from fastapi import FastAPI

from services.client_case.api import install_error_handlers, router
from services.client_case.consumers import CONSUMES, canonical_batches, inbound_facts
from services.client_case.db import MIGRATIONS, metadata, platform
from services.client_case.settings import SERVICE_NAME, Settings
from shared.messaging.inbound.origin import INBOUND_PATTERN
from shared.runtime import DataRuntime, ServiceSpec, create_app

SPEC = ServiceSpec[Settings](
    name=SERVICE_NAME,
    metadata=metadata,
    platform=platform,
    migrations_dir=MIGRATIONS,
    routers=[router],
    configure_app=install_error_handlers,
    consumes=CONSUMES,
    consumes_patterns=[INBOUND_PATTERN],
    batch_handler_factory=canonical_batches,
    inbound_factory=inbound_facts,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(DataRuntime(SPEC, settings or Settings()))
