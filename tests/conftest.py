"""Real infrastructure for the whole test run: one Kafka broker and one PostgreSQL cluster
per run, fresh topics and a fresh database per test.

Where each comes from, in order: the environment (KAFKA_BOOTSTRAP_SERVERS,
PULIH_TEST_POSTGRES_URL), testcontainers when a Docker engine answers, else our own scripts
(shared/infra) starting the real servers on loopback. Under CI=true a missing broker or
database fails the run; it is never skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import text
from sqlalchemy.engine.url import make_url

from shared.infra._process import free_port
from shared.messaging.broker import Topics
from shared.persistence import create_engine
from shared.telemetry import setup_tracing
from tests.privacy import SENSITIVE, Broker, search_the_broker

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Each test's services create the inbound and receipts topics of this province under the
# test's own prefix (all 38 by default: a few hundred partitions per test on one broker).
os.environ.setdefault("PULIH_INBOUND_PROVINCES", "74")
os.environ.setdefault("PULIH_INBOUND_PARTITIONS", "1")


def _unavailable(what: str, why: Exception | str) -> None:
    message = f"{what} unavailable: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: integration tests must run, not skip)", pytrace=False)
    pytest.skip(message)


def _docker_engine() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


_USED: list[str] = []


def _say(config: pytest.Config, line: str) -> None:
    """Remember which real server the run used; the summary at the end lists them."""
    _USED.append(line.strip())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.section("infrastructure used")
    for line in _USED or ["no test needed Kafka or PostgreSQL"]:
        terminalreporter.write_line(line)
    if _LEAKS:
        terminalreporter.section("PRIVACY LEAKS: the run fails", red=True)
        for leak in _LEAKS:
            terminalreporter.write_line(leak, red=True)


@pytest.fixture(scope="session")
def infra_dir() -> Iterator[Path]:
    # Under /tmp so the unprivileged PostgreSQL owner can traverse it when we run as root.
    path = Path(tempfile.mkdtemp(prefix="pulih-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


_LOG_LINES: list[str] = []
_LEAKS: list[str] = []


class _Remember(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        _LOG_LINES.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def _every_log_line() -> Iterator[None]:
    """Keeps every log line of the run (INFO and up) for the privacy search."""
    handler = _Remember(level=logging.INFO)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)  # what the services log at by default
    yield
    root.setLevel(previous)
    root.removeHandler(handler)
    _LEAKS.extend(
        f"log line: {value!r}" for value in SENSITIVE if any(value in line for line in _LOG_LINES)
    )


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _LEAKS:  # identity in clear on the bus or in the logs fails the run
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@contextlib.contextmanager
def _broker(request: pytest.FixtureRequest, infra_dir: Path) -> Iterator[tuple[str, Path | None]]:
    """Where the run's broker is, and its log directory when the run started it."""
    if servers := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        _say(request.config, f"\nKafka: {servers} (from KAFKA_BOOTSTRAP_SERVERS)")
        yield servers, None
        return
    if _docker_engine():
        from testcontainers.community.kafka import KafkaContainer

        with KafkaContainer().with_kraft() as container:
            servers = container.get_bootstrap_server()
            _say(request.config, f"\nKafka: {servers} (testcontainers)")
            yield servers, None
        return
    from shared.infra.kafka import KafkaBroker

    broker = KafkaBroker(infra_dir / "kafka", free_port(), free_port())
    try:
        broker.start(die_with_parent=True)  # an interrupted or killed run leaves none behind
    except Exception as exc:
        _unavailable("Kafka", exc)
    _say(
        request.config, f"\nKafka: {broker.bootstrap_servers} (real broker, shared/infra/kafka.py)"
    )
    try:
        yield broker.bootstrap_servers, broker.storage
    finally:
        broker.kill()  # its data is thrown away: an orderly shutdown of every partition is not


@pytest.fixture(scope="session")
def kafka_broker(request: pytest.FixtureRequest, infra_dir: Path) -> Iterator[Broker]:
    """The run's broker; when the run ends, every byte on it is searched for identities."""
    with _broker(request, infra_dir) as (servers, storage):
        broker = Broker(servers, storage)
        yield broker
        started = time.monotonic()
        found = asyncio.run(search_the_broker(broker, SENSITIVE))
        _LEAKS.extend(f"on the bus: {value!r}" for value in found)
        _say(
            request.config,
            f"privacy search of every topic: {len(found)} identity value(s) found"
            f" ({time.monotonic() - started:.1f}s)",
        )


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: Broker) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def postgres_server_url(request: pytest.FixtureRequest, infra_dir: Path) -> Iterator[str]:
    if url := os.environ.get("PULIH_TEST_POSTGRES_URL"):
        _say(request.config, f"\nPostgreSQL: {make_url(url).render_as_string()} (from env)")
        yield url
        return
    if _docker_engine():
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="asyncpg") as container:
            url = container.get_connection_url()
            _say(request.config, f"\nPostgreSQL: {url} (testcontainers)")
            yield url
        return
    from shared.infra.postgres import PostgresCluster

    cluster = PostgresCluster(infra_dir / "postgres", free_port())
    try:
        cluster.start(die_with_parent=True)
    except Exception as exc:
        _unavailable("PostgreSQL", exc)
    _say(request.config, f"\nPostgreSQL: {cluster.url()} (real cluster, shared/infra/postgres.py)")
    try:
        yield cluster.url()
    finally:
        cluster.stop()


@contextlib.asynccontextmanager
async def fresh_postgres_database(server_url: str) -> AsyncIterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database for one test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async with fresh_postgres_database(request.getfixturevalue("postgres_server_url")) as url:
        yield url


@pytest.fixture
async def postgres_url(postgres_server_url: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database, for what only PostgreSQL does (several replicas)."""
    async with fresh_postgres_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def topics() -> Topics:
    """Fresh topic names for one test."""
    return Topics(prefix=f"t{uuid.uuid4().hex[:10]}.")


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """Every span the test process finishes (the process's one tracer provider)."""
    exporter = InMemorySpanExporter()
    setup_tracing("pulih-tests", exporter=exporter)
    return exporter
