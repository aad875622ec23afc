"""One trace from a province's publish to the national figure: the province's system sends a
screening on its inbound topic with a W3C `traceparent` (or through the gateway's
`POST /ingest`, with the header on its request); client-case answers it inside that trace,
its outbox stages `ClientScreened` with the trace's context, the relay publishes it carrying
the trace on, and reporting projects it into the figure under the same trace id — so an
operator following one submission finds every hop in one trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from services.gateway.app import SPEC as GATEWAY
from services.gateway.settings import Settings as GatewaySettings
from services.reporting.app import SPEC as REPORTING
from services.reporting.settings import Settings
from shared.contracts import client_case_inbound as provincial
from shared.contracts.client_case import ClientScreened
from shared.contracts.envelope import as_json, to_kafka, wrap
from shared.messaging.broker import Topics, make_consumer, make_producer
from shared.runtime import Runtime, create_app
from shared.telemetry import extract_context, inject_headers, tracer
from tests.auth import bearer
from tests.eventually import eventually
from tests.integration.conftest import HIGH_RISK, OPERATOR_74, Platform, form_unit

READER = bearer("reporting-consumer")
PROVINCE = bearer("province-system:74")


@pytest.fixture(params=["kafka", "ingest"])
async def send(
    request: pytest.FixtureRequest, platform: Platform
) -> AsyncIterator[Callable[[provincial.ScreeningSubmitted], Awaitable[None]]]:
    """How the province's system sends, inside its own trace: on its inbound topic with the
    `traceparent` header, or to the gateway's `POST /ingest` with it on the request."""
    if request.param == "kafka":

        async def publish(submission: provincial.ScreeningSubmitted) -> None:
            producer = make_producer(platform.bootstrap, client_id="province-74")
            await producer.start()
            try:
                key, headers, value = to_kafka(wrap(submission, source="/provinces/74/simrehab"))
                await producer.send_and_wait(
                    platform.topics.name("ibm.inbound.74"),
                    value=value,
                    key=key,
                    headers=[*headers, *inject_headers()],
                )
            finally:
                await producer.stop()

        yield publish
        return
    runtime = Runtime(
        GATEWAY,
        GatewaySettings(
            kafka_bootstrap_servers=platform.bootstrap,
            topic_prefix=platform.topics.prefix,
            registry_url="http://registry",
            client_case_url="http://client-case",
            scheduling_url="http://127.0.0.1:9",
            reporting_url="http://127.0.0.1:9",
        ),
    )
    await runtime.start()
    gateway = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://gateway"
    )

    async def post(submission: provincial.ScreeningSubmitted) -> None:
        event = {
            "specversion": "1.0",
            "id": "sultra-trace-ingest-01",
            "source": "/provinces/74/simrehab",
            "type": submission.event_type,
            "time": datetime.now(UTC).isoformat(),
            "data": as_json(submission),
        }
        traceparent = {name: value.decode() for name, value in inject_headers()}
        # In-process, the test's context would reach the gateway without any header: cleared,
        # only the request's `traceparent` header carries the province's trace, as over HTTPS.
        outside = otel_context.attach(otel_context.Context())
        try:
            answer = await gateway.post(
                "/ingest",
                headers={
                    **PROVINCE,
                    "Content-Type": "application/cloudevents-batch+json",
                    **traceparent,
                },
                json=[event],
            )
        finally:
            otel_context.detach(outside)
        assert answer.status_code == 200, answer.text

    try:
        yield post
    finally:
        await gateway.aclose()
        await runtime.stop()


@pytest.fixture
async def reporting(
    platform: Platform, kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(
        REPORTING,
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
            kafka_bootstrap_servers=kafka_bootstrap,
            topic_prefix=topics.prefix,
        ),
    )
    await runtime.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://reporting"
    )
    try:
        yield client
    finally:
        await client.aclose()
        await runtime.stop()


async def test_one_trace_runs_from_the_provincial_publish_to_the_national_figure(
    platform: Platform,
    reporting: httpx.AsyncClient,
    send: Callable[[provincial.ScreeningSubmitted], Awaitable[None]],
    spans: InMemorySpanExporter,
) -> None:
    p = platform
    unit_id = await form_unit(p)
    now = datetime.now(UTC)
    period = str(now.year)

    async def screened_in_74() -> int:
        figure = (
            await reporting.get(
                "/indicators/clients_screened",
                headers=READER,
                params={"period": period, "level": "province", "by": "risk_level"},
            )
        ).json()
        return sum(r["value"] or 0 for r in figure["rows"] if r["region"] == "74")

    async def units_formed() -> int:
        formed = (
            await reporting.get(
                "/indicators/units_formed", headers=READER, params={"period": "2025"}
            )
        ).json()
        return int(formed["within"]["value"] or 0)

    # The unit reaches the read model first, so the projection's next batch holds only what
    # the province's submission caused (its span then continues that trace, not links it).
    async def unit_projected() -> bool:
        return await units_formed() == 1

    await eventually(unit_projected, 60)
    assert await screened_in_74() == 0

    unit = (await p.registry.get(f"/units/{unit_id}", headers=OPERATOR_74)).json()
    submission = provincial.ScreeningSubmitted.model_validate(
        {
            "unit_id": unit_id,
            "province_code": "74",
            "village_code": unit["village_code"],
            "submission_id": "sultra-screening-trace-01",
            "programme": "pbm",
            "screened_at": now,
            "screener_agent_id": "agent-00000000042",
            "province_client_key": "sultra-person-trace-01",
            "substances": HIGH_RISK,
            "injection": "never",
        }
    )
    # The province's own system: a producer span whose context travels with the submission.
    with tracer("simrehab-74").start_as_current_span(
        "publish ibm.inbound.74", kind=SpanKind.PRODUCER
    ) as province_span:
        await send(submission)
    trace_id = province_span.get_span_context().trace_id

    async def screening_projected() -> bool:
        return await screened_in_74() == 1

    await eventually(screening_projected, 60)

    # The canonical fact on client-case's topic carries the province's trace id.
    canonical = await _canonical_trace_ids(p, ClientScreened.topic)
    assert canonical == {trace_id}, "ClientScreened must carry the provincial publish's trace"

    finished = spans.get_finished_spans()
    in_trace = [s for s in finished if s.context is not None and s.context.trace_id == trace_id]
    inbound_topic = p.topics.name("ibm.inbound.74")
    canonical_topic = p.topics.name(ClientScreened.topic)
    answered = _one(
        in_trace,
        lambda s: (
            s.kind is SpanKind.CONSUMER
            and _attr(s, "messaging.destination.name") == inbound_topic
            and _attr(s, "messaging.consumer.group.name") == "client-case"
        ),
    )
    # From Kafka, the answer's parent is the province's span; through the gateway, the
    # gateway's request span, a child of the province's, is in between.
    province = province_span.get_span_context().span_id
    requests = [s for s in in_trace if s.kind is SpanKind.SERVER and "/ingest" in s.name]
    if requests:
        (request,) = requests
        assert _parent(request) == province
        assert _parent(answered) == request.context.span_id
    else:
        assert _parent(answered) == province
    published = _one(
        in_trace,
        lambda s: (
            s.kind is SpanKind.PRODUCER
            and _attr(s, "messaging.destination.name") == canonical_topic
        ),
    )
    # One projection span, or more when a batch is applied again (a retry after a busy
    # database, a rebalance): each a child of the relay's publish. Reporting also reads the
    # receipts, published with the canonical fact: a batch's span is named for its first
    # record's topic, which may be the receipt's.
    projections = [
        s
        for s in in_trace
        if s.kind is SpanKind.CONSUMER
        and _attr(s, "messaging.destination.name")
        in {canonical_topic, p.topics.name("ibm.receipts.74")}
        and _attr(s, "messaging.consumer.group.name") == "reporting"
    ]
    assert projections, [(s.name, s.kind) for s in in_trace]
    assert {_parent(p) for p in projections} == {published.context.span_id}
    # The read model's writes are children of the projection: the figure's rows in the trace.
    writes = [
        s
        for s in in_trace
        if s.kind is SpanKind.CLIENT
        and _parent(s) in {p.context.span_id for p in projections}
        and str(_attr(s, "db.statement") or "").lstrip().upper().startswith("INSERT")
    ]
    assert writes, [(s.name, s.kind) for s in in_trace]
    # Nothing the province submitted appears in any span of the trace (privacy).
    for span in in_trace:
        text = f"{span.name} {dict(span.attributes or {})}"
        assert "sultra-person-trace-01" not in text and unit_id not in span.name


async def _canonical_trace_ids(p: Platform, topic: str) -> set[int]:
    consumer = make_consumer(p.bootstrap, group_id=None, client_id="trace-reader")
    await consumer.start()
    try:
        consumer.subscribe([p.topics.name(topic)])
        found: set[int] = set()
        async with asyncio.timeout(30):
            while not found:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        headers = list(record.headers or ())
                        if dict(headers).get("ce_type") != ClientScreened.event_type.encode():
                            continue
                        context = trace.get_current_span(extract_context(headers))
                        found.add(context.get_span_context().trace_id)
        return found
    finally:
        await consumer.stop()


def _attr(span: ReadableSpan, name: str) -> object:
    return (span.attributes or {}).get(name)


def _parent(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _one(spans: list[ReadableSpan], match: Callable[[ReadableSpan], bool]) -> ReadableSpan:
    found = [s for s in spans if match(s)]
    assert len(found) == 1, [(s.name, s.kind, dict(s.attributes or {})) for s in spans]
    return found[0]
