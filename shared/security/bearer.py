"""The bearer token of an HTTP request, verified: a FastAPI dependency that declares the
`bearer` security scheme in OpenAPI and answers 401 (with `WWW-Authenticate: Bearer`) when the
token is missing or invalid."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shared.runtime import runtime_of
from shared.security.roles import Forbidden, Grant, Role
from shared.security.tokens import AuthSettings, InvalidToken, Principal, Verifier

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
        settings = runtime_of(request).settings
        assert isinstance(settings, AuthSettings)
        state.verifier = Verifier.from_settings(settings)
    verifier: Verifier = state.verifier
    return verifier


async def principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_scheme)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise InvalidToken("a bearer token is required (Authorization: Bearer <token>)")
    return await verifier_of(request).verify(credentials.credentials)


async def grants(who: Annotated[Principal, Depends(principal)]) -> tuple[Grant, ...]:
    """The caller's roles, for a service's routes: people's roles. A provincial system may
    only ingest and read its receipts (the gateway's routes), so it is refused here."""
    if not any(g.role is not Role.PROVINCE_SYSTEM for g in who.grants):
        raise Forbidden(
            "the token grants no role here (a provincial system ingests and reads its receipts)"
        )
    return who.grants


PrincipalDep = Annotated[Principal, Depends(principal)]
Grants = Annotated[tuple[Grant, ...], Depends(grants)]
"""The roles the caller's verified token grants: the dependency every route declares."""
