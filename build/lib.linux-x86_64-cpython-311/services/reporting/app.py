"""Composition root of the reporting service: builds the runtime and HTTP app from settings."""

from __future__ import annotations

import asyncio
import re

from fastapi import FastAPI

from services.reporting.api import install_error_handlers, router
from services.reporting.db import MIGRATIONS, metadata, platform
from services.reporting.projector.consumer import Projector
from services.reporting.settings import SERVICE_NAME, Settings
from services.reporting.suppressor import Suppressor
from services.reporting.warming import warm_up
from shared.contracts import client_case, registry, scheduling
from shared.contracts.platform import receipts_topic
from shared.messaging.broker import Topics, ensure_topics, make_consumer
from shared.runtime import DataRuntime, ServiceSpec, create_app

CANONICAL = (registry.TOPIC, client_case.TOPIC, scheduling.TOPIC)
RECEIPTS_PATTERN = r"ibm\.receipts\.\d{2}"
"""Every province's receipts topic: their refusals are the data health's rejected submissions."""


def receipts_topics(topics: Topics, settings: Settings) -> dict[str, int]:
    """The receipts topics of the provinces the platform is set up for, with their partitions."""
    return {topics.name(receipts_topic(p)): settings.inbound_partitions for p in settings.provinces}


def subscription(topics: Topics, names: list[str]) -> str:
    """One pattern for `names` and every province's receipts topic (aiokafka subscribes to
    topics or to a pattern, not both); a province's topic made later is seen at the next
    metadata refresh."""
    parts = [re.escape(t) for t in names] + [re.escape(topics.prefix) + RECEIPTS_PATTERN]
    return f"^({'|'.join(parts)})$"


async def run_projector(runtime: DataRuntime[Settings], stop: asyncio.Event) -> None:
    """The live projector: the consumer group `reporting` spreads partitions (the canonical
    topics' and the provinces' receipts topics') over replicas; each seeks to the read model's
    own positions when partitions are assigned."""
    settings = runtime.settings
    # The canonical topics, the redrive topic (`pulih dlq redrive reporting`) and the
    # provinces' receipts topics.
    topics = [runtime.topics.name(t) for t in CANONICAL] + [runtime.topics.redrive(SERVICE_NAME)]
    dead_letter = runtime.topics.dead_letter(SERVICE_NAME)
    await ensure_topics(
        settings.kafka_bootstrap_servers, [*topics, dead_letter], auth=settings.kafka_auth
    )
    # Every province's receipts topic exists before its first receipt: the subscription sees
    # them at once instead of at the next metadata refresh.
    await ensure_topics(
        settings.kafka_bootstrap_servers,
        receipts_topics(runtime.topics, settings),
        auth=settings.kafka_auth,
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
    consumer.subscribe(pattern=subscription(runtime.topics, topics), listener=projector.listener())
    await consumer.start()
    try:
        await projector.run(stop)
    finally:
        await consumer.stop()


async def run_suppressor(runtime: DataRuntime[Settings], stop: asyncio.Event) -> None:
    """The background suppression of the cubes the projected batches touched."""
    settings = runtime.settings
    suppressor = Suppressor(
        runtime.engine,
        k=settings.suppression_k,
        min_units=settings.min_units,
        min_gap=settings.cube_max_age_seconds,
        share=settings.suppressor_share,
        wait_seconds=settings.cube_wait_seconds,
        budget=settings.cube_memory_mb * 2**20,
    )
    await suppressor.run(stop)


SPEC = ServiceSpec[Settings](
    name=SERVICE_NAME,
    metadata=metadata,
    platform=platform,
    migrations_dir=MIGRATIONS,
    background=[run_projector, run_suppressor],
    routers=[router],
    configure_app=install_error_handlers,
    warm_up=warm_up,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(DataRuntime(SPEC, settings or Settings()))
