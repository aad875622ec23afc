"""Schemathesis generates requests from each service's own OpenAPI and sends them to the real
service, in-process, with a national and a provincial operator's token: no answer is a 5xx,
every status is documented, and every answer has the documented media type and schema.

The services run on the session's event loop (the real broker, a fresh SQLite database each);
Hypothesis runs in a worker thread and hands each request to that loop."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

# `from_dict` imports this the first time it is called, and it is called in the worker thread:
# that import (compiled through pytest's assertion rewriting, schemathesis being a pytest
# plugin) once met a compile on the event loop's thread, and CPython 3.11's compiler is not
# safe across threads ("SystemError: AST constructor recursion depth mismatch", CI, 30 Nov).
# Imported here, at collection, in the main thread.
from schemathesis.specs.openapi import schemas as _loaded_before_the_worker_thread  # noqa: F401
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.auth import bearer
from tests.integration.conftest import Platform, form_unit

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
TOKENS = {"national": bearer("national-operator"), "province 74": bearer("province-operator:74")}
EXAMPLES = 12  # per operation and token, in each generation mode

EXCLUDED = {
    # A batch of CloudEvents, each checked against the event catalog: random JSON only ever
    # meets the first check. tests/integration/gateway covers it with real batches.
    ("gateway", "POST /ingest"),
    # The proxy forwards any path to a service: what answers is that service's own API,
    # fuzzed here directly.
    *(
        ("gateway", f"{m} /api/{{service}}/{{path}}")
        for m in ("GET", "POST", "PATCH", "PUT", "DELETE")
    ),
    # Health and metrics are not the API: /health/ready answers 503 by design whenever a
    # dependency is down, and both are shared by every service (shared/runtime.py).
    *(
        (s, "GET /health/live")
        for s in ("registry", "client-case", "scheduling", "reporting", "gateway")
    ),
    *(
        (s, "GET /health/ready")
        for s in ("registry", "client-case", "scheduling", "reporting", "gateway")
    ),
}


def _fuzz(
    name: str, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, failures: list[str]
) -> int:
    """Fuzz every operation of one service; returns how many requests were sent."""
    openapi = asyncio.run_coroutine_threadsafe(client.get("/openapi.json"), loop).result(30)
    schema = schemathesis.openapi.from_dict(openapi.json())
    sent = 0

    def send(case: Any, headers: dict[str, str]) -> httpx.Response:
        nonlocal sent
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
        body: dict[str, Any] = {}
        if "json" in kwargs:
            body["json"] = kwargs["json"]
        elif isinstance(kwargs.get("data"), (bytes, str)):
            body["content"] = kwargs["data"]
        elif kwargs.get("data") is not None:
            body["data"] = kwargs["data"]
        request = client.request(
            kwargs["method"],
            kwargs["url"],
            headers=kwargs["headers"],
            params=kwargs.get("params"),
            cookies=kwargs.get("cookies"),
            **body,
        )
        sent += 1
        return asyncio.run_coroutine_threadsafe(request, loop).result(60)

    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if (name, label) in EXCLUDED:
            continue
        for who, headers in TOKENS.items():
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = _property(operation, mode, lambda case, h=headers: send(case, h))
                try:
                    run()
                except Unsatisfiable:  # no parameters: no negative case exists
                    assert mode is GenerationMode.NEGATIVE, label
                except (Exception, BaseExceptionGroup) as failure:  # report them all
                    failures.append(f"{name} {label} ({who}, {mode}): {failure}")
    return sent


def _property(operation: Any, mode: GenerationMode, send: Any) -> Any:
    """A Hypothesis test sending `operation`'s cases and checking each answer."""

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        case.validate_response(send(case), checks=CHECKS)

    return check


# SQLite: a fresh database per service suffices; the services' SQL is tested on PostgreSQL
# by their own integration tests.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_every_operation_answers_as_its_openapi_says(
    platform: Platform, apps: dict[str, Any]
) -> None:
    await form_unit(platform)  # something to find: a unit and its village, in scope of 74
    loop = asyncio.get_running_loop()
    failures: list[str] = []
    for name, transport in apps.items():
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{name}") as client:
            sent = await asyncio.to_thread(_fuzz, name, client, loop, failures)
        assert sent > 0, (name, failures[:3])
    assert not failures, "\n\n".join(failures)
