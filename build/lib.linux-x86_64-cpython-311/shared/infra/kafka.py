"""A single-node Apache Kafka 4 broker in KRaft mode, from Maven Central, on loopback.

Maven resolves `org.apache.kafka:kafka_2.13` and a log4j2 backend (deploy/kafka/pom.xml) into
a cache folder once; the broker then runs from those jars with a small heap. Each broker has
its own data dir, chosen by the caller, holding its config, storage, log and pid file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from shared.infra._process import port_open, read_pid, spawn, terminate, wait_until

ROOT = Path(__file__).resolve().parents[2]
POM = ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J2 = ROOT / "deploy" / "kafka" / "log4j2.yaml"


def cache_dir() -> Path:
    return Path(os.environ.get("PULIH_CACHE", Path.home() / ".cache" / "pulih"))


def resolve_jars() -> Path:
    """Resolve the broker's jars with Maven into the cache (once) and return their folder."""
    version = _pom_property("kafka.version")
    libs = cache_dir() / f"kafka-{version}" / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to fetch Kafka from Maven Central")
    libs.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
            "-DincludeScope=runtime",
        ],
        check=True,
    )
    marker.touch()
    return libs


def _pom_property(name: str) -> str:
    text = POM.read_text()
    start = text.index(f"<{name}>") + len(name) + 2
    return text[start : text.index(f"</{name}>")]


@dataclass(frozen=True)
class KafkaBroker:
    data_dir: Path
    port: int
    controller_port: int

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "kafka.log"

    @property
    def storage(self) -> Path:
        """Its log directory: one folder per partition, the records in `*.log` segments."""
        return self.data_dir / "storage"

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(
        self, *, heap: str = "512m", timeout: float = 120.0, die_with_parent: bool = False
    ) -> None:
        """Start the broker (or wait for the running one). `die_with_parent`: it stops when
        the starting process ends, however it ends."""
        if self.running():
            wait_until(
                lambda: metadata_ok(self.bootstrap_servers),
                timeout=timeout,
                what=f"Kafka at {self.bootstrap_servers}",
            )
            return
        libs = resolve_jars()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self._write_config()
        java = _java()
        classpath = f"{libs}/*"
        if not (self.storage / "meta.properties").exists():
            subprocess.run(
                [
                    java,
                    "-cp",
                    classpath,
                    f"-Dlog4j2.configurationFile={LOG4J2}",
                    "kafka.tools.StorageTool",
                    "format",
                    "--standalone",
                    "--ignore-formatted",
                    "-t",
                    str(uuid.uuid4()).replace("-", "")[:22],
                    "-c",
                    str(config),
                ],
                check=True,
                capture_output=True,
            )
        spawn(
            [
                java,
                f"-Xmx{heap}",
                f"-Xms{heap}",
                "-XX:+UseG1GC",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                classpath,
                f"-Dlog4j2.configurationFile={LOG4J2}",
                "kafka.Kafka",
                str(config),
            ],
            log_file=self.log_file,
            pid_file=self.pid_file,
            die_with_parent=die_with_parent,
        )
        wait_until(
            lambda: self._alive_or_fail() and metadata_ok(self.bootstrap_servers),
            timeout=timeout,
            what=f"Kafka at {self.bootstrap_servers}",
        )

    def stop(self) -> bool:
        return terminate(self.pid_file)

    def kill(self) -> bool:
        """Stop it at once, without its orderly shutdown: the end of a throwaway broker."""
        return terminate(self.pid_file, timeout=0)

    def _alive_or_fail(self) -> bool:
        if not self.running():
            tail = (
                self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(f"Kafka exited during start-up; log tail:\n{tail}")
        return True

    def _write_config(self) -> Path:
        config = self.data_dir / "server.properties"
        config.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}",
                    f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.storage}",
                    "num.partitions=3",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=10",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "auto.create.topics.enable=true",
                    # Canonical topics keep events indefinitely (ARCHITECTURE.md).
                    "log.retention.ms=-1",
                    "",
                ]
            )
        )
        return config


def _java() -> str:
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java:
        raise RuntimeError("Java 17 is needed to run Kafka")
    return java


def metadata_ok(bootstrap_servers: str) -> bool:
    """True when the broker answers a real metadata request (not only an open port)."""
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    if not port_open(int(port), host or "127.0.0.1"):
        return False
    return asyncio.run(_describe_cluster(bootstrap_servers))


async def _describe_cluster(bootstrap_servers: str) -> bool:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=3000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        return bool(cluster.get("brokers"))
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return False
    finally:
        await admin.close()
