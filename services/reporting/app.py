"""Composition root of the reporting service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from services.reporting.api import install_error_handlers, router
from services.reporting.db import MIGRATIONS, metadata, platform
from services.reporting.projector import Projector
from services.reporting.settings import SERVICE_NAME, Settings
from services.reporting.suppressor import Suppressor
from shared.contracts import client_case, registry, scheduling
from shared.messaging.broker import ensure_topics, make_consumer
from shared.runtime import Runtime, ServiceSpec, create_app

CANONICAL = (registry.TOPIC, client_case.TOPIC, scheduling.TOPIC)


async def run_projector(runtime: Runtime, stop: asyncio.Event) -> None:
    """The live projector: the consumer group `reporting` spreads partitions over replicas;
    each seeks to the read model's own positions when partitions are assigned."""
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.engine is not None
    # The canonical topics, and the redrive topic (`pulih dlq redrive reporting`).
    topics = [runtime.topics.name(t) for t in CANONICAL] + [runtime.topics.redrive(SERVICE_NAME)]
    dead_letter = runtime.topics.dead_letter(SERVICE_NAME)
    await ensure_topics(
        settings.kafka_bootstrap_servers, [*topics, dead_letter], auth=settings.kafka_auth
    )
    consumer = make_consumer(
        settings.kafka_bootstrap_servers,
        group_id=SERVICE_NAME,
        client_id=SERVICE_NAME,
        max_poll_records=settings.projection_batch_size,
        auth=settings.kafka_auth,
    )
    projector = Projector(
        engine=runtime.engine,
        consumer=consumer,
        producer=runtime.producer,
        dead_letter_topic=dead_letter,
        batch_size=settings.projection_batch_size,
    )
    consumer.subscribe(topics, listener=projector.listener())
    await consumer.start()
    try:
        await projector.run(stop)
    finally:
        await consumer.stop()


async def run_suppressor(runtime: Runtime, stop: asyncio.Event) -> None:
    """The background suppression of the cubes the projected batches touched."""
    settings = runtime.settings
    assert isinstance(settings, Settings) and runtime.engine is not None
    suppressor = Suppressor(
        runtime.engine,
        k=settings.suppression_k,
        min_units=settings.min_units,
        min_gap=settings.cube_max_age_seconds,
        wait_seconds=settings.cube_wait_seconds,
        capacity=settings.cubes_kept,
    )
    await suppressor.run(stop)


SPEC = ServiceSpec(
    name=SERVICE_NAME,
    metadata=metadata,
    platform=platform,
    migrations_dir=MIGRATIONS,
    background=[run_projector, run_suppressor],
    routers=[router],
    configure_app=install_error_handlers,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(Runtime(SPEC, settings or Settings()))
