"""`pulih simulate` as an operator starts a national-shaped run against a running platform:
each province sized by its villages, published a few at a time through its inbound topic,
then checked figure by figure against the exact totals it generated."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from services.registry.regions import RegionSource
from shared.cli.common import PORT_OFFSETS
from shared.messaging.broker import Topics
from shared.simulation.demo import national_size
from tests.processes import ROOT, Services, free_port_base

PROVINCES = ("75", "76")
"""Gorontalo and Sulawesi Barat: two of the smallest."""
SCALE = 0.004


async def test_provinces_sized_by_their_villages_are_published_and_check_out(
    kafka_bootstrap: str, topics: Topics, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "PULIH_STATE_DIR": str(tmp_path),
        "PULIH_HTTP_PORT_BASE": str(free_port_base()),
        "PULIH_TOPIC_PREFIX": topics.prefix,
        "PULIH_INBOUND_PROVINCES": ",".join(PROVINCES),
    }
    services = Services(env, tmp_path)
    totals_file = tmp_path / "totals.json"
    try:
        for name in PORT_OFFSETS:
            services.start(name)
        for name in PORT_OFFSETS:
            await services.ready(name)
        simulator = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "shared.cli", "simulate", "--province", ",".join(PROVINCES)),
            *("--scale", str(SCALE), "--at-once", "1", "--check", "--totals", str(totals_file)),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, "PULIH_GATEWAY_URL": services.url("gateway")},
        )
        async with asyncio.timeout(400):
            output = (await simulator.communicate())[0].decode(errors="replace")
    finally:
        services.stop_all()
    assert simulator.returncode == 0, output[-4000:]
    figures = json.loads(totals_file.read_text())["figures"]
    villages = _villages_of(PROVINCES)
    for code in PROVINCES:
        units, people = national_size(villages[code], SCALE)
        # Sized by every village the registry has for the province, not a sample of them.
        assert f"[{code}] {villages[code]} villages: {units} units, {people} people" in output
        formed = sum(v for k, v in figures.items() if k.startswith(f"units_formed|{code}|"))
        assert formed == units
        screened = sum(v for k, v in figures.items() if k.startswith(f"clients_screened|{code}|"))
        assert 0 < screened <= people
        compared = re.search(
            rf"\[{code}\] (\d+) figures compared with the exact ones: 0 differ", output
        )
        assert compared and int(compared[1]) > 40, output[-4000:]
    assert "2 of 2 provinces published" in output


def _villages_of(provinces: tuple[str, ...]) -> dict[str, int]:
    """Villages per province in the official region list the registry loads."""
    counts = dict.fromkeys(provinces, 0)
    for code, level, *_ in RegionSource.installed().rows(set(provinces)):
        if level == "village":
            counts[code[:2]] += 1
    return counts
