"""`make run`'s command, as a user runs it: all five services come up ready, each in its own
process against the real broker with its own SQLite database, a demo province is seeded
through its inbound topic and every indicator shows exactly the simulator's figure for the
province, and everything stops cleanly on SIGTERM; killing `pulih run` itself leaves no
service behind."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shared.cli.common import PORT_OFFSETS
from shared.infra._process import port_open
from shared.messaging.broker import Topics
from shared.simulation import check
from shared.simulation.expected import Value
from tests.auth import bearer
from tests.processes import free_port_base

ROOT = Path(__file__).resolve().parents[2]


async def test_pulih_run_brings_up_every_service_and_stops_on_sigterm(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    base = free_port_base()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        "run",
        "--demo",  # the suite's broker is not the run's own: ask for the demo
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "PULIH_STATE_DIR": str(tmp_path),
            "PULIH_HTTP_PORT_BASE": str(base),
            "PULIH_TOPIC_PREFIX": topics.prefix,
        },
    )
    # Read as it comes: a full pipe would block the services' logging, and so the services.
    assert process.stdout is not None
    reader = asyncio.create_task(process.stdout.read())
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for service, offset in PORT_OFFSETS.items():
                url = f"http://127.0.0.1:{base + offset}/health/ready"
                async with asyncio.timeout(90):
                    while True:
                        if process.returncode is not None:
                            output = await reader
                            raise AssertionError(f"pulih run exited early: {output[-4000:]!r}")
                        try:
                            response = await client.get(url)
                            if response.status_code == 200:
                                break
                        except httpx.TransportError:
                            pass
                        await asyncio.sleep(0.2)
                checks = response.json()["checks"]
                assert checks["kafka"] == "ok", service
                if service != "gateway":
                    assert checks["database"] == "ok", service
            # A fresh registry seeds the official region tree on its first start.
            provinces = await client.get(
                f"http://127.0.0.1:{base + PORT_OFFSETS['registry']}/regions",
                params={"level": "province", "limit": 100},
                headers=bearer("national-operator"),
            )
            assert provinces.json()["total"] == 38
            # A unit formed through the registry reaches reporting's indicators.
            registry = f"http://127.0.0.1:{base + PORT_OFFSETS['registry']}"
            operator = bearer("province-operator:74")
            village = (
                await client.get(
                    f"{registry}/regions",
                    headers=operator,
                    params={"parent": "74.71.01", "level": "village"},
                )
            ).json()["items"][0]["code"]
            formed = await client.post(
                f"{registry}/units",
                headers=operator,
                json={
                    "village_code": village,
                    "name": "Sinar Madani",
                    "formed_on": "2025-03-14",
                    "decree": {
                        "number": "141/07/KEL-MDG/2025",
                        "signed_on": "2025-03-10",
                        "signatory": "lurah",
                    },
                    "formation": "bnn_target",
                    "facilitating_office": "BNNP-74",
                },
            )
            assert formed.status_code == 201, formed.text
            # The demo province, seeded through its inbound topic, is in the figures exactly
            # as the simulator generated it (its totals file), with the unit formed above.
            totals_file = tmp_path / "demo-totals.json"
            async with asyncio.timeout(240):
                while not totals_file.exists():
                    if process.returncode is not None:
                        raise AssertionError("pulih run exited while seeding the demo")
                    await asyncio.sleep(0.5)
            totals = json.loads(totals_file.read_text())
            demo_units = [
                v for k, v in totals["figures"].items() if k.startswith("units_formed|74|")
            ]
            assert sum(demo_units) > 10
            expected = _with_the_unit_formed_above(check.compared(totals["figures"], "74", False))
            years = check.years_of(expected)
            indicators = f"http://127.0.0.1:{base + PORT_OFFSETS['reporting']}/indicators"
            consumer = bearer("reporting-consumer")
            figures: dict[str, Value] = {}
            with contextlib.suppress(TimeoutError):  # what still differs is reported below
                async with asyncio.timeout(60):
                    while (  # noqa: ASYNC110 - the figures are in another process
                        figures := await check.shown(
                            client, indicators, "74", years, consumer, regencies=False
                        )
                    ) != expected:
                        await asyncio.sleep(0.5)
            differ = check.differences(expected, figures)
            assert not differ, "figures differing from the simulator's:\n" + "\n".join(differ)
    finally:
        process.send_signal(signal.SIGTERM)
        asked = time.monotonic()
        async with asyncio.timeout(60):
            await process.wait()
            output = (await reader).decode(errors="replace")
    stopped_in = time.monotonic() - asked
    assert process.returncode == 0, output
    assert stopped_in < 10, f"SIGTERM took {stopped_in:.1f}s to stop every service"
    databases = {p.name for p in (tmp_path / "data").glob("*.db")}
    assert databases == {"registry.db", "client-case.db", "scheduling.db", "reporting.db"}


def _with_the_unit_formed_above(figures: dict[str, Value]) -> dict[str, Value]:
    """The demo's figures for province 74 with the unit the test forms through the registry
    (formed on 14 March 2025, with no agent, activity or client)."""
    found = dict(figures)
    for name, value in figures.items():
        indicator, _, year = name.split("|")
        formed_in_the_year = indicator in ("units_formed", "units_against_target")
        if (formed_in_the_year and year == "2025") or (
            indicator == "units_cumulative" and year >= "2025"
        ):
            found[name] = int(value or 0) + 1
        elif indicator == "operational_units" and year >= "2025":
            found[name] = value or 0  # one more unit formed by then (none before: no figure)
        elif indicator == "sustained_units" and year >= "2026":
            found[name] = value or 0  # likewise, one more formed before the year
    return found


def test_killing_pulih_run_leaves_no_service_behind(kafka_bootstrap: str, tmp_path: Path) -> None:
    base = free_port_base()
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.cli", "run"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "PULIH_STATE_DIR": str(tmp_path),
            "PULIH_HTTP_PORT_BASE": str(base),
        },
    )
    ports = [base + offset for offset in PORT_OFFSETS.values()]
    try:
        deadline = time.monotonic() + 90
        while not all(port_open(p) for p in ports):
            assert process.poll() is None, "pulih run exited early"
            assert time.monotonic() < deadline, "the services did not come up"
            time.sleep(0.2)
    finally:
        process.kill()  # no chance to stop its services itself
        process.wait()
    deadline = time.monotonic() + 30
    while any(port_open(p) for p in ports):
        assert time.monotonic() < deadline, "a service outlived pulih run"
        time.sleep(0.2)
