"""The five services as their own processes (as `pulih run`, compose and Kubernetes run
them), for tests and benchmarks that kill, restart or measure them one by one."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.cli.common import PORT_OFFSETS
from shared.infra._process import exit_with_parent, port_open

ROOT = Path(__file__).resolve().parents[1]


class Services:
    """The five services, each its own process, killed and started again on demand."""

    def __init__(
        self, env: dict[str, str], logs: Path, databases: dict[str, str] | None = None
    ) -> None:
        """`databases`: a database URL per service (PostgreSQL); otherwise SQLite files."""
        self.env, self.logs, self.databases = env, logs, databases or {}
        self.base = int(env["PULIH_HTTP_PORT_BASE"])
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.base + PORT_OFFSETS[name]}"

    def start(self, name: str) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", "shared.cli", "serve", name],
                cwd=ROOT,
                env={
                    **self.env,
                    **(
                        {"PULIH_DATABASE_URL": self.databases[name]}
                        if name in self.databases
                        else {}
                    ),
                },
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=exit_with_parent,
            )

    async def ready(self, name: str, seconds: float = 120) -> float:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2) as http, asyncio.timeout(seconds):
            while True:
                try:
                    if (await http.get(f"{self.url(name)}/health/ready")).status_code == 200:
                        return time.monotonic() - started
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def free_port_base() -> int:
    """Five free ports in a row for the services, below Linux's ephemeral range (32768+):
    a port the kernel handed out as free may be taken a moment later by any outgoing
    connection (a Kafka client's), and a service then cannot bind it."""
    while True:
        base = random.randrange(20_000, 32_000)
        if not any(port_open(base + i) or not _bindable(base + i) for i in range(5)):
            return base


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
