"""The bearer token of an HTTP request, verified: a FastAPI dependency that declares the
`bearer` security scheme in OpenAPI and answers 401 (with `WWW-Authenticate: Bearer`) when the
token is missing or invalid."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.runtime import runtime_of
from shared.security.tokens import InvalidToken, Principal, Verifier

_scheme = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An access token of the programme's identity provider (OIDC); in development "
    "`pulih auth token --role <role>` prints one.",
)


def verifier_of(request: Request) -> Verifier:
    """The app's verifier, made once from the service's settings."""
    state = request.app.state
    if getattr(state, "verifier", None) is None:
        state.verifier = Verifier.from_settings(runtime_of(request).settings)
    verifier: Verifier = state.verifier
    return verifier


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken("a bearer token is required (Authorization: Bearer <token>)")
    return await verifier_of(request).verify(credentials.credentials)


PrincipalDep = Annotated[Principal, Depends(principal)]
"""The verified token; routes take who it speaks for as `shared.dependencies.CallerDep`."""
