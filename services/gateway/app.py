"""Composition root of the gateway. It owns no database; it talks to Kafka and the services."""

from __future__ import annotations

from fastapi import FastAPI

from services.gateway.settings import SERVICE_NAME, Settings
from shared.runtime import Runtime, ServiceSpec, create_app

SPEC = ServiceSpec(name=SERVICE_NAME)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(Runtime(SPEC, settings or Settings()))
