"""A test run that is killed leaves no Kafka broker or PostgreSQL behind: the servers a run
starts stop when the process that started them ends, however it ends (here SIGKILL, which no
cleanup code survives)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared.infra._process import read_pid

STARTER = """
import sys, time
from pathlib import Path
from shared.infra.kafka import KafkaBroker
from shared.infra.postgres import PostgresCluster
from shared.infra._process import free_port
root = Path(sys.argv[1])
PostgresCluster(root / "postgres", free_port()).start(die_with_parent=True)
KafkaBroker(root / "kafka", free_port(), free_port()).start(die_with_parent=True)
print("started", flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_servers_stop_when_the_run_that_started_them_is_killed(infra_dir: Path) -> None:
    root = infra_dir / "killed-run"  # traversable by PostgreSQL's own user when run as root
    root.mkdir(mode=0o755)
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(root)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert starter.stdout is not None
        assert starter.stdout.readline().strip() == "started"
        servers = [read_pid(root / name / f"{name}.pid") for name in ("postgres", "kafka")]
        assert all(pid is not None and _alive(pid) for pid in servers), servers
    finally:
        starter.send_signal(signal.SIGKILL)
        starter.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in servers if pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in servers if pid and _alive(pid)]
    for pid in left:  # do not leave them to the next run either
        os.killpg(pid, signal.SIGKILL)
    assert not left, f"still running after the run was killed: {left}"
