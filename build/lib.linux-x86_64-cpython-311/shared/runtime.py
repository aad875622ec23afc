"""Every service starts the same way: settings → telemetry → database and migrations →
topics → outbox relay and consumer → HTTP app with health and metrics (STYLE.md, eShop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Self, TypeVar, cast

from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.contracts.envelope import Envelope
from shared.contracts.platform import INBOUND_TOPIC, RECEIPTS_TOPIC
from shared.http import Guard, install_problem_handlers, problem
from shared.messaging.broker import Topics, ensure_topics, make_consumer, make_producer
from shared.messaging.consumer import BatchHandler, EventConsumer, Handler, RetryPolicy
from shared.messaging.inbound.answerer import InboundAnswerer
from shared.messaging.inbound.answers import ApplyBatch
from shared.messaging.inbound.origin import INBOUND_PATTERN
from shared.messaging.outbox import Outbox
from shared.messaging.relay import OutboxRelay
from shared.messaging.tables import PlatformTables
from shared.metrics import HttpMetrics
from shared.migrations import upgrade
from shared.persistence import create_engine, session_factory
from shared.settings import ServiceSettings
from shared.telemetry import instrument_engine

log = logging.getLogger(__name__)


S = TypeVar("S", bound=ServiceSettings)
"""A service's own settings class."""


@dataclass(frozen=True)
class ServiceSpec(Generic[S]):
    """What makes one service: its name, its own tables and migrations, what it consumes.

    Generic in the service's settings, so its factories and loops get a runtime whose
    `settings` is that class (`ServiceSpec[Settings](...)`)."""

    name: str
    metadata: MetaData | None = None
    """The service's own tables: with them (and `platform`) it runs as a `DataRuntime`."""
    platform: PlatformTables | None = None
    migrations_dir: Path | None = None
    consumes: Sequence[str] = ()
    consumes_patterns: Sequence[str] = ()
    """Regular expressions of further topics, e.g. every province's inbound topic."""
    handler_factory: Callable[[DataRuntime[S]], Handler] | None = None
    """Applies canonical events of other contexts (and redriven dead letters), one by one."""
    batch_handler_factory: Callable[[DataRuntime[S]], BatchHandler] | None = None
    """Applies them a partition's batch at once (set-based); preferred over `handler_factory`."""
    inbound_factory: Callable[[DataRuntime[S]], ApplyBatch] | None = None
    """Applies the provinces' facts of the types `shared.contracts.inbound` gives the service."""
    routers: Sequence[APIRouter] = field(default_factory=tuple)
    configure_app: Callable[[FastAPI], None] | None = None
    background: Sequence[Callable[[DataRuntime[S], asyncio.Event], Coroutine[Any, Any, None]]] = ()
    """Loops that run beside the relay and consumer until the service stops (e.g. a sweeper)."""
    on_start: Callable[[DataRuntime[S]], Awaitable[None]] | None = None
    """Runs after migrations, before the consumer starts (e.g. seed reference data)."""
    warm_up: Callable[[DataRuntime[S]], Awaitable[None]] | None = None
    """Runs once the service has started; `/health/ready` says not ready (`warm: warming`)
    until it ends, so readers reach a replica with what they ask first already made. One
    that fails is logged and the replica becomes ready regardless."""

    @property
    def has_database(self) -> bool:
        return self.metadata is not None and self.platform is not None

    @property
    def needs_database(self) -> bool:
        """What only a service with its own database (its inbox and outbox) can run."""
        return bool(
            self.consumes
            or self.consumes_patterns
            or self.handler_factory
            or self.batch_handler_factory
            or self.inbound_factory
            or self.background
            or self.on_start
            or self.warm_up
            or self.migrations_dir
        )


class Runtime(Generic[S]):
    """The live parts of one service process, built from its spec and settings: its settings,
    topic names, producer and what it closes when it stops. A service with its own database
    is a `DataRuntime`, which `Runtime(spec, settings)` gives for such a spec."""

    def __new__(cls, spec: ServiceSpec[S], settings: S) -> Self:
        if cls is Runtime and spec.has_database:
            return cast(Self, object.__new__(DataRuntime))
        return object.__new__(cls)

    def __init__(self, spec: ServiceSpec[S], settings: S) -> None:
        if spec.needs_database and not isinstance(self, DataRuntime):
            raise ValueError(
                f"service {spec.name}: consumers, migrations and background loops need its "
                "own database (the spec's metadata and platform tables)"
            )
        self.spec = spec
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self._producer: AIOKafkaProducer | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.closing: list[Callable[[], Awaitable[None]]] = []
        """Closed when the service stops (e.g. the gateway's HTTP client)."""

    @property
    def producer(self) -> AIOKafkaProducer:
        """The service's producer, from `start` on (aiokafka makes it in a running loop)."""
        if self._producer is None:
            raise RuntimeError(f"service {self.spec.name} has not started")
        return self._producer

    async def start(self) -> None:
        await self._start_producer()
        log.info("service %s started", self.spec.name)

    async def _start_producer(self) -> None:
        s = self.settings
        self._producer = make_producer(
            s.kafka_bootstrap_servers, client_id=self.spec.name, auth=s.kafka_auth
        )
        await self._producer.start()

    async def stop(self) -> None:
        """Graceful: finish the batch in hand, commit, then close clients and the pool."""
        self._stop.set()
        for task in self._tasks:
            try:
                await asyncio.wait_for(task, timeout=15)
            except asyncio.CancelledError:
                pass
            except TimeoutError:  # cancelled: the rest still closes
                log.warning("service %s: %s did not stop in 15 s", self.spec.name, task.get_name())
        await self._stop_consumer()
        if self._producer is not None:
            await self._producer.stop()
        for close in self.closing:
            await close()
        await self._dispose()
        log.info("service %s stopped", self.spec.name)

    async def _stop_consumer(self) -> None:
        """A `DataRuntime` stops its consumer before the producer."""

    async def _dispose(self) -> None:
        """A `DataRuntime` closes its connection pool last."""

    async def check_ready(self) -> dict[str, str]:
        return {"kafka": await self._kafka_check()}

    async def _kafka_check(self) -> str:
        if self._producer is None:
            return "down: not started"
        try:
            ok = await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=3)
            return "ok" if ok.brokers() else "down: no brokers"
        except Exception as exc:  # noqa: BLE001
            return f"down: {type(exc).__name__}"

    def notify_committed(self) -> None:
        """Wakes the outbox relay after a commit that staged events (none here)."""


class DataRuntime(Runtime[S]):
    """A service with its own database: its engine, sessions and outbox are always there
    (made here, once, or the service does not start), and it runs the outbox relay, the
    consumer of other contexts' events and provinces' facts, and its background loops."""

    def __init__(self, spec: ServiceSpec[S], settings: S) -> None:
        if spec.metadata is None or spec.platform is None:
            raise ValueError(f"service {spec.name}: a DataRuntime needs metadata and platform")
        super().__init__(spec, settings)
        self.platform: PlatformTables = spec.platform
        self.engine: AsyncEngine = create_engine(settings.resolved_database_url)
        instrument_engine(self.engine)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        self.outbox = Outbox(spec.platform.outbox, source=f"/pulih/{spec.name}", topics=self.topics)
        self.relay: OutboxRelay | None = None
        self.consumer: EventConsumer | None = None
        self.warming: asyncio.Task[None] | None = None

    @property
    def consumed_topics(self) -> list[str]:
        if not (self.spec.consumes or self.spec.consumes_patterns):
            return []
        return [
            *(self.topics.name(t) for t in self.spec.consumes),
            self.topics.redrive(self.spec.name),
        ]

    @property
    def subscription(self) -> str:
        """One pattern for every topic the service reads (aiokafka takes topics or a pattern)."""
        prefix = re.escape(self.topics.prefix)
        parts = [re.escape(t) for t in self.consumed_topics]
        parts += [f"{prefix}{p}" for p in self.spec.consumes_patterns]
        return f"^({'|'.join(parts)})$"

    async def start(self) -> None:
        s = self.settings
        if self.spec.migrations_dir and s.migrate_on_start:
            await asyncio.to_thread(
                upgrade, self.spec.migrations_dir, s.resolved_database_url, self.spec.name
            )
        if self.spec.on_start is not None:
            await self.spec.on_start(self)
        await self._start_producer()
        self.relay = OutboxRelay(
            service=self.spec.name,
            engine=self.engine,
            table=self.platform.outbox,
            bootstrap_servers=s.kafka_bootstrap_servers,
            topics=self.topics,
            auth=s.kafka_auth,
            batch_size=s.relay_batch_size,
            idle_seconds=s.relay_idle_seconds,
            keep_sent_seconds=s.outbox_keep_sent_seconds,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(self._stop), name="relay"))
        if self.consumed_topics:
            await self._start_consumer()
        for loop in self.spec.background:
            self._tasks.append(asyncio.create_task(loop(self, self._stop)))
        if self.spec.warm_up is not None:
            self.warming = asyncio.create_task(self._warm_up(self.spec.warm_up), name="warm-up")
            self._tasks.append(self.warming)
        log.info("service %s started", self.spec.name)

    async def _warm_up(self, warm_up: Callable[[DataRuntime[S]], Awaitable[None]]) -> None:
        """The warm-up, given up when the service stops."""
        warming = asyncio.ensure_future(warm_up(self))
        stopping = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({warming, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not warming.done():
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
        elif not warming.cancelled() and warming.exception() is not None:
            log.error(  # a cold replica still answers, only slower
                "service %s: warming up failed; ready regardless",
                self.spec.name,
                exc_info=warming.exception(),
            )

    async def _start_consumer(self) -> None:
        s = self.settings
        await ensure_topics(
            s.kafka_bootstrap_servers,
            [*self.consumed_topics, self.topics.dead_letter(self.spec.name)],
            auth=s.kafka_auth,
        )
        if INBOUND_PATTERN in self.spec.consumes_patterns:
            # Every province's topics exist before its first event: the subscription sees
            # them at once instead of at the next metadata refresh.
            await ensure_topics(
                s.kafka_bootstrap_servers,
                {
                    self.topics.name(template.format(province=p)): s.inbound_partitions
                    for p in s.provinces
                    for template in (INBOUND_TOPIC, RECEIPTS_TOPIC)
                },
                auth=s.kafka_auth,
            )
        kafka_consumer = make_consumer(
            s.kafka_bootstrap_servers,
            group_id=self.spec.name,
            client_id=self.spec.name,
            max_poll_records=s.consumer_batch_size,
            auth=s.kafka_auth,
        )
        kafka_consumer.subscribe(pattern=self.subscription)
        await kafka_consumer.start()
        consumer = self.consumer = EventConsumer(
            group=self.spec.name,
            topics=self.consumed_topics,
            handler=self.spec.handler_factory(self) if self.spec.handler_factory else _refuse,
            batch_handler=(
                self.spec.batch_handler_factory(self) if self.spec.batch_handler_factory else None
            ),
            on_commit=self.notify_committed,
            engine=self.engine,
            inbox=self.platform.inbox,
            consumer=kafka_consumer,
            producer=self.producer,
            topic_names=self.topics,
            batch_size=s.consumer_batch_size,
            retry=RetryPolicy(s.consumer_max_attempts, s.consumer_retry_backoff_seconds),
        )
        if self.spec.inbound_factory is not None:

            async def dead_letter(record: Any, reason: str) -> None:
                await consumer.dead_letter(record, reason=reason, attempts=1)

            consumer.inbound = InboundAnswerer(
                service=self.spec.name,
                apply=self.spec.inbound_factory(self),
                sessions=self.sessions,
                tables=self.platform,
                outbox=self.outbox,
                dialect=self.engine.dialect.name,
                dead_letter=dead_letter,
                on_commit=self.notify_committed,
            )
        self._tasks.append(asyncio.create_task(consumer.run(self._stop), name="consumer"))

    async def _stop_consumer(self) -> None:
        if self.consumer is not None:
            await self.consumer.consumer.stop()

    async def _dispose(self) -> None:
        await self.engine.dispose()

    async def check_ready(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            checks["database"] = f"down: {type(exc).__name__}"
        checks["kafka"] = await self._kafka_check()
        if self.warming is not None:
            checks["warm"] = "ok" if self.warming.done() else "warming"
        return checks

    def notify_committed(self) -> None:
        """Wakes the outbox relay after a commit that staged events."""
        if self.relay is not None:
            self.relay.notify()


async def _refuse(_db: AsyncSession, envelope: Envelope) -> None:
    raise RuntimeError(f"no handler for canonical {envelope.type}")


def create_app(runtime: Runtime[Any]) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=f"Pulih {runtime.spec.name}", lifespan=lifespan)
    app.state.runtime = runtime
    install_problem_handlers(app)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "live"}

    @app.get("/health/ready", tags=["health"], response_model=None)
    async def ready() -> Response | dict[str, object]:
        checks = await runtime.check_ready()
        if all(v == "ok" for v in checks.values()):
            return {"status": "ready", "checks": checks}
        return problem(503, "Service not ready", checks=checks)

    @app.get("/metrics", tags=["health"], include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    for router in runtime.spec.routers:
        app.include_router(router)
    if runtime.spec.configure_app is not None:
        runtime.spec.configure_app(app)
    settings = runtime.settings
    if settings.cors_origins:  # closed unless configured (e.g. a dashboard on another origin)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(Guard, max_bytes=settings.max_request_bytes)
    app.add_middleware(HttpMetrics, service=runtime.spec.name, skip=("/health/", "/metrics"))
    FastAPIInstrumentor.instrument_app(app, excluded_urls="health/.*,metrics")
    return app


def runtime_of(request: Request) -> Runtime[Any]:
    """The runtime of the app serving `request` (routes take `shared.dependencies.RuntimeDep`)."""
    runtime: Runtime[Any] = request.app.state.runtime
    return runtime
