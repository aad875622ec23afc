"""Composition root of the registry service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

from fastapi import FastAPI

from services.registry.api import install_error_handlers, router
from services.registry.consumers import INBOUND_PATTERN, inbound_handler, invalid_inbound_handler
from services.registry.db import MIGRATIONS, metadata, platform
from services.registry.settings import SERVICE_NAME, Settings
from shared.runtime import Runtime, ServiceSpec, create_app

SPEC = ServiceSpec(
    name=SERVICE_NAME,
    metadata=metadata,
    platform=platform,
    migrations_dir=MIGRATIONS,
    routers=[router],
    consumes_patterns=[INBOUND_PATTERN],
    handler_factory=inbound_handler,
    invalid_handler_factory=invalid_inbound_handler,
    configure_app=install_error_handlers,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(Runtime(SPEC, settings or Settings()))
