"""Composition root of the reporting service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

from fastapi import FastAPI

from services.reporting.db import MIGRATIONS, metadata, platform
from services.reporting.settings import SERVICE_NAME, Settings
from shared.runtime import Runtime, ServiceSpec, create_app

SPEC = ServiceSpec(
    name=SERVICE_NAME, metadata=metadata, platform=platform, migrations_dir=MIGRATIONS
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(Runtime(SPEC, settings or Settings()))
