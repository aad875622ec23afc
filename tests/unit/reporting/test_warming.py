"""A starting reporting replica is not ready while its suppressor makes the first round of
cubes, so that behind a Service requests go to replicas that have theirs; it is ready once
the round ends, or after `cube_warm_up_seconds` in any case."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import httpx

from services.reporting.app import _warming
from shared.runtime import Runtime, ServiceSpec, create_app
from shared.settings import ServiceSettings


def _runtime(seconds: float) -> SimpleNamespace:
    return SimpleNamespace(
        warming={"cubes": "warming: the first round of suppressed cubes"},
        settings=SimpleNamespace(cube_warm_up_seconds=seconds),
    )


async def test_a_replica_is_ready_once_its_first_round_of_cubes_is_made() -> None:
    runtime, warmed = _runtime(60), asyncio.Event()
    waiting = asyncio.create_task(_warming(runtime, warmed))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert "cubes" in runtime.warming

    warmed.set()
    await waiting
    assert runtime.warming == {}


async def test_a_replica_whose_round_takes_too_long_is_ready_after_the_warm_up_time() -> None:
    runtime = _runtime(0.05)
    await asyncio.wait_for(_warming(runtime, asyncio.Event()), 5)  # type: ignore[arg-type]
    assert runtime.warming == {}


async def test_the_readiness_probe_names_what_is_still_warming() -> None:
    runtime = Runtime(
        ServiceSpec[ServiceSettings](name="bare"), ServiceSettings(service_name="bare")
    )
    runtime.warming["cubes"] = "warming: the first round of suppressed cubes"
    app = create_app(runtime)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        answer = await c.get("/health/ready")
        assert answer.status_code == 503
        assert answer.json()["checks"]["cubes"].startswith("warming")
        runtime.warming.clear()
        assert (await c.get("/health/ready")).json()["checks"] == {"kafka": "down: not started"}
