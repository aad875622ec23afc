"""A throwaway PostgreSQL 15 cluster on loopback, from Debian's `postgresql-15` server binaries.

initdb refuses to run as root, so when we are root the cluster belongs to an unprivileged
system user (`postgres` when the package created it, else `nobody`). Authentication is `trust`
on loopback only: the cluster is for local runs and tests, never for data that matters.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared.infra._process import read_pid, spawn, terminate, wait_until


def bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    for version in ("15", "16", "17"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin")
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("PostgreSQL server binaries not found: install Debian's postgresql-15")


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged user to own the cluster")


@dataclass(frozen=True)
class PostgresCluster:
    data_dir: Path
    port: int
    user: str = "pulih"
    durable: bool = False
    """Commits survive the server being killed (`synchronous_commit` on). Off by default: a
    development or test cluster trades the last moment's commits on a crash for speed (the
    data survives a clean stop either way)."""

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "postgres.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    def url(self, database: str = "postgres", driver: str = "asyncpg") -> str:
        return f"postgresql+{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def running(self) -> bool:
        return read_pid(self.pid_file) is not None

    def start(self, *, timeout: float = 60.0, die_with_parent: bool = False) -> None:
        """Start the cluster (or wait for the running one). `die_with_parent`: it stops when
        the starting process ends, however it ends."""
        if not self.running():
            owner = _run_as()
            self._initdb(owner)
            spawn(
                [
                    str(bindir() / "postgres"),
                    "-D",
                    str(self.pgdata),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.data_dir}",
                    "-c",
                    "max_connections=300",
                    "-c",
                    "fsync=off",
                    "-c",
                    f"synchronous_commit={'on' if self.durable else 'off'}",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "shared_buffers=256MB",
                ],
                log_file=self.log_file,
                pid_file=self.pid_file,
                user=owner,
                die_with_parent=die_with_parent,
            )
        wait_until(self.ready, timeout=timeout, what=f"PostgreSQL on port {self.port}")

    def ready(self) -> bool:
        if not self.running():
            tail = (
                self.log_file.read_text(errors="replace")[-2000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(f"PostgreSQL exited during start-up; log tail:\n{tail}")
        result = subprocess.run(
            [
                str(bindir() / "pg_isready"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
            ],
            capture_output=True,
        )
        return result.returncode == 0

    def stop(self) -> bool:
        return terminate(self.pid_file)

    def _initdb(self, owner: str | None) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if owner:
            shutil.chown(self.data_dir, user=owner)
            self.log_file.touch()
            shutil.chown(self.log_file, user=owner)
        if (self.pgdata / "PG_VERSION").exists():
            return
        subprocess.run(
            [
                str(bindir() / "initdb"),
                "-D",
                str(self.pgdata),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=owner,
        )
