"""One trace runs from an HTTP request, through the outbox and Kafka, to the consumer's
database span — through the same runtime every service uses."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import select

from shared.messaging.broker import Topics
from shared.runtime import Runtime, ServiceSpec, create_app, runtime_of
from shared.settings import ServiceSettings
from tests.eventually import eventually
from tests.integration.messaging.harness import (
    TOPIC,
    applied,
    metadata,
    platform,
    prepared_engine,
    record_effect,
    session_completed,
)

router = APIRouter()


@router.post("/sessions/{case_id}/completed", status_code=202)
async def complete_session(case_id: str, request: Request) -> dict[str, str]:
    runtime = runtime_of(request)
    assert runtime.sessions is not None and runtime.outbox is not None
    async with runtime.sessions.begin() as session:
        envelope = await runtime.outbox.add(session, session_completed(case_id))
    runtime.notify_committed()
    return {"event_id": envelope.id}


async def test_trace_runs_from_request_through_kafka_to_consumer_database_span(
    database_url: str, kafka_bootstrap: str, topics: Topics, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    await (await prepared_engine(database_url)).dispose()
    settings = ServiceSettings(
        service_name="harness",
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        topic_prefix=topics.prefix,
        relay_idle_seconds=0.05,
    )
    spec = ServiceSpec(
        name="harness",
        metadata=metadata,
        platform=platform,
        consumes=[TOPIC],
        handler_factory=lambda _runtime: record_effect,
        routers=[router],
    )
    runtime = Runtime(spec, settings)
    app = create_app(runtime)
    await runtime.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://harness"
        ) as client:
            ready = await client.get("/health/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"] == {"database": "ok", "kafka": "ok"}
            response = await client.post("/sessions/case-trace-000000001/completed")
        assert response.status_code == 202
        event_id = response.json()["event_id"]
        assert runtime.engine is not None
        engine = runtime.engine

        async def applied_once() -> bool:
            async with engine.connect() as connection:
                query = select(applied.c.event_id).where(applied.c.event_id == event_id)
                return (await connection.execute(query)).first() is not None

        await eventually(applied_once, 60)
    finally:
        await runtime.stop()

    finished = spans.get_finished_spans()
    request_span = _one(finished, lambda s: s.kind is SpanKind.SERVER and "/sessions/" in s.name)
    trace_id = request_span.context.trace_id
    in_trace = [s for s in finished if s.context.trace_id == trace_id]
    publish = _one(in_trace, lambda s: s.kind is SpanKind.PRODUCER)
    process = _one(in_trace, lambda s: s.kind is SpanKind.CONSUMER)
    db_write = _one(
        in_trace,
        lambda s: (
            s.kind is SpanKind.CLIENT
            and "INSERT INTO applied" in str((s.attributes or {}).get("db.statement", ""))
        ),
    )
    assert process.parent is not None and process.parent.span_id == publish.context.span_id
    assert db_write.parent is not None and db_write.parent.span_id == process.context.span_id


def _one(spans: list[ReadableSpan] | tuple[ReadableSpan, ...], match) -> ReadableSpan:  # type: ignore[no-untyped-def]
    found = [s for s in spans if match(s)]
    assert len(found) == 1, [(s.name, s.kind) for s in spans]
    return found[0]
