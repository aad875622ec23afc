"""HTTP conventions shared by every service: RFC 9457 problem documents (and their place in
each route's OpenAPI) and health routes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int, title: str, *, detail: str | None = None, type_: str = "about:blank", **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


class ProblemError(BaseModel):
    """One broken rule of a request."""

    field: str | None = Field(description="The field, dotted (`body.unit_id`), if one.")
    rule: str = Field(description="The rule it breaks, e.g. `in-scope`, `missing`.")
    message: str


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document, as every service answers an error."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="A short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong this time.")
    errors: list[ProblemError] | None = Field(
        default=None, description="For 422: each field and the rule it breaks."
    )


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` resolved in place, to sit under a media type
    FastAPI does not give component schemas (`application/problem+json`)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_PROBLEM_SCHEMA = _inline(ProblemDocument.model_json_schema())
_MEANING = {
    400: "Not JSON, or not the shape the route takes",
    401: "No valid bearer token, or a malformed role",
    403: "The role may never do this, or the region or unit is outside the caller's scope",
    404: "Not found, or a record about a person outside the caller's scope",
    409: "Already recorded, or the state does not allow it",
    410: "The person was erased",
    412: "The record changed since the caller read it",
    413: "More events or bytes than a request may hold",
    415: "Not a JSON batch of CloudEvents",
    422: "A broken rule or an invalid request, naming each field and rule",
    429: "Over the province's rate; retry after Retry-After seconds",
    502: "The service did not answer",
    503: "The service failed repeatedly; retry after Retry-After",
    504: "The service took longer than the gateway waits",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route or router: each status as an RFC 9457 problem document
    (`application/problem+json`)."""
    return {
        status: {
            "description": _MEANING.get(status, "A problem"),
            "content": {PROBLEM_JSON: {"schema": _PROBLEM_SCHEMA}},
        }
        for status in statuses
    }


AUTHENTICATED = problem_responses(400, 401, 403, 422)
"""What any authenticated route may answer: a body that is not JSON, no or a bad token, a
refused role, a broken rule."""


async def _validation_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in error["loc"] if p != "body") or None,
            "rule": error["type"],
            "message": error["msg"],
        }
        for error in exc.errors()
    ]
    return problem(
        422,
        "Request is not valid",
        type_="https://pulih.id/problems/validation",
        detail="; ".join(f"{e['field']}: {e['message']}" for e in errors),
        errors=errors,
    )


async def _http_problem(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, str(exc.detail))


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)


@dataclass(frozen=True)
class Problem:
    """How one exception type is answered: status and title, optionally a fixed detail (else the
    exception's text) and a problem type URI."""

    status: int
    title: str
    detail: str | None = None
    type_: str = "about:blank"


def install_domain_errors(
    app: FastAPI, *, rules_of: str, problems: dict[type[Exception], Problem]
) -> None:
    """The errors every service's domain and security raise, as RFC 9457 documents: broken
    rules (422, each naming field and rule), missing or unknown roles (401), refused scope
    (403), and the service's own `problems`."""
    from shared.rules import RuleViolations
    from shared.security.roles import Forbidden, NotAuthenticated

    async def violations(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RuleViolations)
        return problem(
            422,
            f"The request breaks {rules_of} rules",
            type_="https://pulih.id/problems/rule-violation",
            detail=str(exc),
            errors=[
                {"field": v.field, "rule": v.rule, "message": v.message} for v in exc.violations
            ],
        )

    def respond_with(spec: Problem) -> Any:
        async def respond(_request: Request, exc: Exception) -> JSONResponse:
            detail = spec.detail if spec.detail is not None else str(exc)
            response = problem(spec.status, spec.title, detail=detail, type_=spec.type_)
            if spec.status == 401:
                response.headers["WWW-Authenticate"] = 'Bearer realm="pulih"'
            return response

        return respond

    app.add_exception_handler(RuleViolations, violations)
    every: dict[type[Exception], Problem] = {
        NotAuthenticated: Problem(401, "Not authenticated"),
        Forbidden: Problem(403, "Forbidden"),
        **problems,
    }
    for exc_type, spec in every.items():
        app.add_exception_handler(exc_type, respond_with(spec))


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
DOCS = ("/docs", "/redoc", "/openapi.json")


class Guard:
    """Pure ASGI middleware on every service: security headers on every answer (a strict
    content security policy except on the API docs), and a 413 problem for a request body over
    `max_bytes`, whether or not it declares its length."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        docs = scope.get("path", "").startswith(DOCS)
        received, too_large, replaced = 0, False, False

        async def counted() -> Any:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # stop reading; the answer becomes a 413
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded(message: Any) -> None:
            nonlocal replaced
            if too_large:
                if not replaced:
                    replaced = True
                    await self._too_large(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                extra = SECURITY_HEADERS if docs else [*SECURITY_HEADERS, API_CSP]
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *((n, v) for n, v in extra if n not in names),
                ]
            await send(message)

        await self.app(scope, counted, guarded)

    async def _too_large(self, scope: Any, receive: Any, send: Any) -> None:
        response = problem(
            413, "Request too large", detail=f"at most {self.max_bytes} bytes per request"
        )
        response.headers.update({k.decode(): v.decode() for k, v in SECURITY_HEADERS})
        await response(scope, receive, send)
