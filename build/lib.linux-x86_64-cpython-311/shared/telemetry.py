"""OpenTelemetry traces, W3C trace-context propagation through Kafka headers, JSON logs
that carry trace ids. The Prometheus metrics are in `shared.metrics`."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TextIO

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanKind
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.settings import ServiceSettings


def setup_tracing(
    service_name: str, settings: ServiceSettings | None = None, exporter: SpanExporter | None = None
) -> TracerProvider:
    """Install the process's tracer provider: OTLP when configured, console on request, or the
    given exporter (tests). Without any exporter spans still get ids, for log correlation."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if settings is not None and settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otel_exporter_otlp_endpoint))
        )
    if settings is not None and settings.otel_console:
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer(name: str = "pulih") -> trace.Tracer:
    return trace.get_tracer(name)


def inject_headers() -> list[tuple[str, bytes]]:
    """The current trace context as Kafka headers (`traceparent`, `tracestate`)."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return [(name, value.encode()) for name, value in carrier.items()]


def extract_context(headers: Iterable[tuple[str, bytes]]) -> otel_context.Context:
    carrier = {
        name: value.decode(errors="replace")
        for name, value in headers
        if name in ("traceparent", "tracestate")
    }
    return propagate.extract(carrier)


def batch_span(records: Sequence[Any], group: str) -> AbstractContextManager[object]:
    """One consumer span for a batch of Kafka records, continuing the trace of the first record
    that carries one and linking the others (OpenTelemetry's shape for batch processing)."""
    contexts = []
    for r in records:  # a projection batch holds thousands: 128 contexts are enough
        span = trace.get_current_span(extract_context(r.headers or ())).get_span_context()
        if span.is_valid:
            contexts.append(span)
            if len(contexts) == 128:
                break
    first = records[0]
    return tracer().start_as_current_span(
        f"process {first.topic}",
        context=trace.set_span_in_context(NonRecordingSpan(contexts[0])) if contexts else None,
        kind=SpanKind.CONSUMER,
        links=[Link(c) for c in contexts[1:128]],
        attributes={
            "messaging.system": "kafka",
            "messaging.destination.name": first.topic,
            "messaging.kafka.partition": first.partition,
            "messaging.batch.message_count": len(records),
            "messaging.consumer.group.name": group,
        },
    )


def context_from_mapping(carrier: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(carrier))


# Defence in depth: even if a developer logs a payload by mistake, NIK-like (16 digits) and
# phone-like numbers never reach the log sink in plain text.
_REDACTIONS = (
    (re.compile(r"(?<!\d)\d{16}(?!\d)"), "[redacted-nik]"),
    (re.compile(r"(?<![\w\d])(?:\+62|62|0)8\d{7,11}(?!\d)"), "[redacted-phone]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class _TraceAndRedact(logging.Filter):
    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    def filter(self, record: logging.LogRecord) -> bool:
        span = trace.get_current_span().get_span_context()
        record.service = self.service_name
        record.trace_id = format(span.trace_id, "032x") if span.is_valid else None
        record.span_id = format(span.span_id, "016x") if span.is_valid else None
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def setup_logging(service_name: str, level: str = "INFO", stream: TextIO | None = None) -> None:
    """JSON lines (on stderr by default), each carrying service, trace_id and span_id."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_TraceAndRedact(service_name))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every call at INFO, its URL and query included: a line per upstream call
    # of the gateway (the calls are in its traces and metrics).
    for noisy in ("aiokafka", "alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def instrument_engine(engine: AsyncEngine) -> None:
    """Database spans for one engine. The instrumentor's `instrument(engine=…)` works only for
    the first engine of a process (it is a singleton), and each test and service process builds
    several, so we attach its per-engine tracer directly."""
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import get_meter

    usage = get_meter("pulih.sqlalchemy").create_up_down_counter(
        "db.client.connections.usage", unit="connections"
    )
    EngineTracer(  # type: ignore[no-untyped-call]
        trace.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine.sync_engine, usage
    )
