"""The Prometheus metrics every service exposes on `/metrics`, in one place.

`docs/observability.md` has the table (what each means, which alert watches it); the Grafana
dashboard and the alert rules under `deploy/grafana/` and `k8s/base/monitoring/` read these
names. Labels are low-cardinality by rule: a service, a consumer group, a topic, a partition,
a province code, an outcome, a route template — never an id or anything a province or a user
submitted (privacy: no NIK, name or value ever reaches a metric).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "pulih_events_published", "Events the outbox relay published.", ["service", "topic"]
)
EVENTS_CONSUMED = Counter(
    "pulih_events_consumed",
    "Events a consumer handled, by outcome (applied, duplicate, dead_lettered; inbound: "
    "accepted, duplicate, rejected, dead_lettered).",
    ["service", "topic", "outcome"],
)
HANDLER_FAILURES = Counter(
    "pulih_handler_failures", "Failed attempts to apply an event.", ["service", "topic"]
)
DEAD_LETTERS = Counter(
    "pulih_dead_letters",
    "Records parked on a dead-letter topic: each is a bug of ours and should page someone.",
    ["service", "topic"],
)
RECEIPTS = Counter(
    "pulih_receipts",
    "Answers to provinces on their receipts topics, by outcome: accepted, duplicate, "
    "rejected (the province's to fix) and internal_error (ours: also dead-lettered).",
    ["service", "province", "outcome"],
)
OUTBOX_BACKLOG = Gauge("pulih_outbox_backlog", "Outbox rows not yet published.", ["service"])
OUTBOX_OLDEST_AGE = Gauge(
    "pulih_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published (0 when none is waiting).",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "pulih_consumer_lag",
    "Records behind the partition's end: its high watermark minus the group's next offset.",
    ["group", "topic", "partition"],
)
RELAY_BATCH_SECONDS = Histogram(
    "pulih_relay_batch_seconds", "Time to publish one outbox batch.", ["service"]
)
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
BATCH_SECONDS = Histogram(
    "pulih_batch_processing_seconds",
    "Time to apply one fetched batch and store its effects (kind: canonical, inbound or "
    "projection).",
    ["group", "kind"],
    buckets=_LATENCY_BUCKETS,
)
DELIVERY_SECONDS = Histogram(
    "pulih_event_delivery_seconds",
    "From a batch's oldest record reaching Kafka (its timestamp) to its effects being stored: "
    "how long a fact waits before the platform knows it.",
    ["group", "kind"],
    buckets=_LATENCY_BUCKETS,
)
HTTP_SECONDS = Histogram(
    "pulih_http_request_duration_seconds",
    "HTTP requests by route template (never the raw path) and status class.",
    ["service", "method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
)


def observe_batch(group: str, kind: str, started: float, oldest_timestamp_ms: int | None) -> None:
    """Record a stored batch: its processing time since `started` (`time.perf_counter`) and
    the wait of its oldest record since Kafka stamped it."""
    BATCH_SECONDS.labels(group, kind).observe(time.perf_counter() - started)
    if oldest_timestamp_ms is not None and oldest_timestamp_ms > 0:
        waited = time.time() - oldest_timestamp_ms / 1000
        DELIVERY_SECONDS.labels(group, kind).observe(max(waited, 0.0))


def record_lag(group: str, topic: str, partition: int, end: int | None, next_offset: int) -> None:
    """A partition's lag: `end` is its high watermark (None until a fetch has reported it)."""
    if end is not None:
        CONSUMER_LAG.labels(group, topic, str(partition)).set(max(end - next_offset, 0))


def forget_lag(group: str, topic: str, partition: int) -> None:
    """Stop reporting a partition this process no longer consumes (a rebalance moved it)."""
    with contextlib.suppress(KeyError):
        CONSUMER_LAG.remove(group, topic, str(partition))


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class HttpMetrics:
    """ASGI middleware timing each request under its route's template (`/units/{unit_id}`),
    which the router leaves in the scope; a path no route matched counts as `unmatched`, so
    ids, tokens or probes in a URL never become label values."""

    def __init__(self, app: ASGIApp, *, service: str, skip: tuple[str, ...] = ()) -> None:
        self.app = app
        self.service = service
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(self.skip):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_SECONDS.labels(
                self.service, method if method in _METHODS else "other", route, f"{status // 100}xx"
            ).observe(time.perf_counter() - started)
