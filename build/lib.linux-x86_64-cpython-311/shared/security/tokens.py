"""Bearer tokens: OIDC/JWT access tokens signed RS256 or ES256 by the programme's identity
provider, verified by every service against the provider's key set (JWKS).

- issuer, audience and expiry are checked, with at most 60 s of clock leeway;
- a token signed by a key the set does not have (a rotation) makes the verifier fetch the
  set again, at most once per cooldown; a failed fetch keeps the last good set;
- roles travel in the `roles` claim as `role[:scope]` strings (`province-operator:74`);
- a token verified once is not verified again until it expires or the key set changes: a
  dashboard's page sends the same token to the gateway and, through it, to every service.

A development issuer signs tokens with a key derived from a fixed phrase (`pulih auth token`),
so `make run` needs no identity provider; production refuses it (`AuthSettings`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet
from pydantic import BaseModel, Field, model_validator

from shared.security.roles import Grant, NotAuthenticated, parse_grants

log = logging.getLogger(__name__)

ALGORITHMS = ["RS256", "ES256"]
DEV_ISSUER = "https://auth.pulih.invalid/development"
DEV_KEY_ID = "pulih-development-1"
AUDIENCE = "pulih"


class InvalidToken(NotAuthenticated):
    """The bearer token is missing, malformed, badly signed, expired or not for us."""


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for: its subject and the roles it grants."""

    subject: str
    grants: tuple[Grant, ...]


class AuthSettings(BaseModel):
    """Where tokens come from (environment: PULIH_AUTH_*), a mixin of service settings (a
    plain model: a settings base would reset their `PULIH_` prefix)."""

    auth_issuer: str = Field(default=DEV_ISSUER, description="The tokens' `iss`.")
    auth_audience: str = Field(default=AUDIENCE, description="The tokens' `aud`.")
    auth_jwks_url: str | None = Field(
        default=None, description="The identity provider's JWKS URL (or `auth_jwks_file`)."
    )
    auth_jwks_file: Path | None = Field(default=None, description="A JWKS document on disk.")
    auth_leeway_seconds: int = Field(
        default=30, ge=0, le=60, description="Clock skew allowed on `exp`, `nbf` and `iat`."
    )
    auth_refresh_cooldown_seconds: float = Field(
        default=30, ge=0, description="The least time between two JWKS fetches for unknown keys."
    )

    @property
    def development_issuer(self) -> bool:
        return self.auth_issuer == DEV_ISSUER

    @model_validator(mode="after")
    def _refuse_the_development_issuer_in_production(self) -> AuthSettings:
        if str(getattr(self, "environment", "")) == "production" and (
            self.development_issuer or not (self.auth_jwks_url or self.auth_jwks_file)
        ):
            raise ValueError(
                "production needs a real issuer and its keys "
                "(PULIH_AUTH_ISSUER and PULIH_AUTH_JWKS_URL or PULIH_AUTH_JWKS_FILE)"
            )
        return self


def development_key() -> ECKey:
    """The development issuer's P-256 key, the same in every process (derived from a phrase)."""
    secret = int.from_bytes(hashlib.sha256(b"pulih development only: issuer").digest(), "big")
    private = ec.derive_private_key(secret % (2**255), ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return ECKey.import_key(pem, {"kid": DEV_KEY_ID, "use": "sig", "alg": "ES256"})


def development_token(
    roles: Sequence[str], *, subject: str = "developer", ttl_seconds: int = 8 * 3600
) -> str:
    """A token of the development issuer, for `make run`, the tests and the docs' examples."""
    parse_grants(roles)  # refuse a malformed role here rather than at every service
    now = int(time.time())
    claims = {
        "iss": DEV_ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + ttl_seconds,
        "roles": list(roles),
    }
    return jwt.encode({"alg": "ES256", "kid": DEV_KEY_ID, "typ": "JWT"}, claims, development_key())


KeySetSource = Callable[[], Any]
"""Returns a JWKS document (a dict with `keys`), or an awaitable of one."""


class Verifier:
    """Verifies bearer tokens against the issuer's key set, refreshing it on an unknown key."""

    kept = 4096
    """Tokens remembered as verified (the most recent); one is about a kilobyte."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        fetch: KeySetSource,
        leeway: int = 30,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer, self.audience, self.leeway = issuer, audience, min(leeway, 60)
        self._fetch, self._cooldown, self._clock = fetch, cooldown, clock
        self._keys: KeySet | None = None
        self._fetched_at: float | None = None
        self._verified: dict[str, tuple[Principal, float]] = {}  # token: principal, expiry
        self._claims = jwt.JWTClaimsRegistry(
            leeway=self.leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )

    @classmethod
    def from_settings(cls, settings: AuthSettings) -> Verifier:
        fetch: KeySetSource
        if settings.auth_jwks_url:
            url = settings.auth_jwks_url

            async def fetch_url() -> Any:
                async with httpx.AsyncClient(timeout=5) as client:
                    response = await client.get(url)
                    response.raise_for_status()
                    return response.json()

            fetch = fetch_url
        elif settings.auth_jwks_file:
            path = settings.auth_jwks_file

            def fetch() -> Any:
                return json.loads(path.read_text())
        else:
            public = development_key().as_dict(private=False)

            def fetch() -> Any:
                return {"keys": [public]}

        return cls(
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            fetch=fetch,
            leeway=settings.auth_leeway_seconds,
            cooldown=settings.auth_refresh_cooldown_seconds,
        )

    async def refresh(self) -> bool:
        """Fetch the key set again unless fetched within the cooldown; True when it changed.
        A failed fetch keeps the last good set."""
        now = self._clock()
        if self._fetched_at is not None and now - self._fetched_at < self._cooldown:
            return False
        self._fetched_at = now
        try:
            document = self._fetch()
            if hasattr(document, "__await__"):
                document = await document
            keys = KeySet.import_key_set(document)
        except Exception as exc:  # noqa: BLE001 - any failure keeps the last good set
            log.warning("JWKS fetch failed (%s); keeping the last good key set", type(exc).__name__)
            return False
        self._keys = keys
        self._verified.clear()  # a key taken out of the set takes its tokens with it
        return True

    async def verify(self, token: str) -> Principal:
        if (known := self._verified.get(token)) is not None:
            principal, expires = known
            if time.time() <= expires + self.leeway:
                return principal
            del self._verified[token]
        if self._keys is None:
            await self.refresh()
        if self._keys is None:
            raise InvalidToken("the issuer's keys are not available")
        try:
            decoded = self._decode(token)
        except InvalidKeyIdError:
            if not await self.refresh():  # a key rotated in since the last fetch?
                raise InvalidToken("the token is signed by an unknown key") from None
            try:
                decoded = self._decode(token)
            except InvalidKeyIdError:
                raise InvalidToken("the token is signed by an unknown key") from None
        roles = decoded.claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("the roles claim is a list of role strings")
        try:
            grants = parse_grants(roles)
        except NotAuthenticated as exc:
            raise InvalidToken(str(exc)) from None
        principal = Principal(str(decoded.claims["sub"]), tuple(grants))
        if len(self._verified) >= self.kept:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (principal, float(decoded.claims["exp"]))
        return principal

    def _decode(self, token: str) -> jwt.Token:
        assert self._keys is not None
        try:
            decoded = jwt.decode(token, self._keys, algorithms=ALGORITHMS)
            self._claims.validate(decoded.claims)
        except InvalidKeyIdError:
            raise
        except (JoseError, ValueError) as exc:
            raise InvalidToken(f"invalid token ({type(exc).__name__})") from None
        return decoded
