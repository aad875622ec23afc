"""One origin: `/api/<service>/<path>` is the service's own API, called with the caller's
verified token. A service that is down or slow answers 502, 503 (circuit open) or 504 here,
as a problem document, never a hang."""

from __future__ import annotations

from datetime import date

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.gateway.settings import UPSTREAMS
from services.gateway.upstream import Upstreams, forwarded_headers
from shared.contracts.types import EntityId
from shared.dependencies import CallerDep
from shared.http import problem, problem_responses

router = APIRouter()

PASSED_BACK = {"content-type", "location", "etag", "cache-control", "retry-after"}


def upstreams_of(request: Request) -> Upstreams:
    upstreams: Upstreams = request.app.state.upstreams
    return upstreams


async def proxy(service: str, path: str, request: Request, _caller: CallerDep) -> Response:
    """The API of `service` (registry, client-case, scheduling, reporting) at `path`, e.g.
    `/api/reporting/indicators`, for any verified token. Each service checks the caller's
    roles itself (a provincial system reads the region list and its cases' plans, nothing
    else); its answer is passed back as it is."""
    if service not in UPSTREAMS:
        return problem(404, "Not found", detail=f"no service {service!r}")
    return await forward(service, path, request)


class PlannedSession(BaseModel):
    session_id: str = Field(description="The id attendance and misses name.")
    week: int = Field(description="Week of the 16-week pathway (the screening week is 1).")
    session_type: str
    due_on: date = Field(description="The last day of the session's week.")
    state: str = Field(description="planned, due, overdue, done, missed, cancelled or on_hold.")
    agent_id: str | None = Field(description="The agent who holds it.")
    held_on: date | None = Field(default=None, description="Done sessions: when.")
    miss_reason: str | None = Field(default=None, description="Missed sessions: why.")


class Plan(BaseModel):
    """A case's sessions, as scheduling answers them."""

    case_id: str
    unit_id: str = Field(description="The unit serving the case now.")
    sessions: list[PlannedSession]


class IdentityKey(BaseModel):
    public_key: str = Field(description="Base64 X25519 public key for libsodium sealed boxes.")


@router.get(
    "/identity-key",
    tags=["provinces"],
    response_model=None,
    responses={200: {"model": IdentityKey}, **problem_responses(502, 503, 504)},
)
async def identity_key(request: Request) -> Response:
    """The public key provinces seal a person's identity to (`identity_sealed` in
    `ScreeningSubmitted`): client-case's `GET /identity-key`, open to all, no token."""
    return await forward("client-case", "identity-key", request)


@router.get(
    "/plans/{case_id}",
    tags=["provinces"],
    response_model=None,
    responses={
        200: {"model": Plan},
        **problem_responses(401, 403, 404, 422, 502, 503, 504),
    },
)
async def plan(case_id: EntityId, request: Request, _caller: CallerDep) -> Response:
    """A case's sessions (scheduling's `GET /cases/{case_id}/sessions`), for a provincial
    system too: the `session_id`s its `AttendanceSubmitted` and `MissSubmitted` name. The
    case id is on the receipt of the screening (and of every later fact of the case). Read by
    the province's system (`province-system:<p>`), the case's unit's agents and the operators
    over it; 404 until scheduling has made the plan from the enrolment."""
    return await forward("scheduling", f"cases/{case_id}/sessions", request)


async def forward(service: str, path: str, request: Request) -> Response:
    """The request, with the caller's token, to the service: its answer passed back."""
    upstreams = upstreams_of(request)
    breaker = upstreams.breakers[service]
    if not breaker.allows():
        response: JSONResponse = problem(
            503, "Service unavailable", detail=f"{service} is failing; try again shortly"
        )
        response.headers["Retry-After"] = str(int(upstreams.settings.breaker_reset_seconds))
        return response
    headers = forwarded_headers(dict(request.headers), request.headers.get("authorization", ""))
    try:
        answer = await upstreams.client.request(
            request.method,
            upstreams.url(service, path),
            params=list(request.query_params.multi_items()),
            content=await request.body(),
            headers=headers,
            timeout=upstreams.settings.upstream_timeout_seconds,
        )
    except httpx.TimeoutException:
        breaker.failed()
        return problem(504, "Gateway timeout", detail=f"{service} did not answer in time")
    except httpx.HTTPError:
        breaker.failed()
        return problem(502, "Bad gateway", detail=f"{service} is not reachable")
    if answer.status_code >= 500:
        breaker.failed()
    else:
        breaker.succeeded()
    return Response(
        answer.content,
        status_code=answer.status_code,
        headers={k: v for k, v in answer.headers.items() if k.lower() in PASSED_BACK},
    )


for _method in ("GET", "POST", "PATCH", "PUT", "DELETE"):
    router.add_api_route(
        "/api/{service}/{path:path}",
        proxy,
        methods=[_method],
        operation_id=f"proxy_{_method.lower()}",
        tags=["proxy"],
        response_model=None,
        # Any answer of the service passes through; the gateway's own are problems.
        responses=problem_responses(401, 403, 404, 502, 503, 504),
    )
