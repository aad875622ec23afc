"""Bearer tokens as every service verifies them: signature from the issuer's key set, issuer,
audience and expiry (with bounded leeway), key rotation with a fetch cooldown, and a failed
fetch that keeps the last good keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from shared.security.roles import Grant, Role
from shared.security.tokens import (
    DEV_ISSUER,
    AuthSettings,
    InvalidToken,
    Principal,
    Verifier,
    development_key,
    development_token,
)

ISSUER = "https://login.bnn.go.id/realms/pulih"


def _rsa(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def _token(key: Any, kid: str, alg: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "pulih", "sub": "agent-sari", "exp": now + 300, "iat": now}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": kid}, body, key)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Jwks:
    """The identity provider's key set, counting fetches; can fail."""

    def __init__(self, *keys: RSAKey) -> None:
        self.keys, self.fetches, self.failing = list(keys), 0, False

    def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        if self.failing:
            raise ConnectionError("the identity provider is down")
        return {"keys": [k.as_dict(private=False) for k in self.keys]}


def _verifier(jwks: Jwks, clock: Clock | None = None, leeway: int = 30) -> Verifier:
    return Verifier(
        issuer=ISSUER,
        audience="pulih",
        fetch=jwks,
        leeway=leeway,
        cooldown=30,
        clock=clock or Clock(),
    )


async def test_a_development_token_is_verified_with_its_roles() -> None:
    token = development_token(["province-operator:74", "unit-agent:01JB7Q2M5X9R3T8V6W4Y2Z0A1C"])
    principal = await Verifier.from_settings(AuthSettings()).verify(token)
    assert principal == Principal(
        "developer",
        (
            Grant(Role.PROVINCE_OPERATOR, "74"),
            Grant(Role.UNIT_AGENT, "01JB7Q2M5X9R3T8V6W4Y2Z0A1C"),
        ),
    )


async def test_issuer_audience_expiry_and_algorithm_are_checked() -> None:
    key = _rsa("k1")
    verifier = _verifier(Jwks(key), leeway=30)
    assert (await verifier.verify(_token(key, "k1", roles=["national-operator"]))).subject
    now = int(time.time())
    refused = [
        _token(key, "k1", iss="https://evil.example"),
        _token(key, "k1", aud="another-app"),
        _token(key, "k1", exp=now - 31),  # beyond the leeway
        _token(key, "k1", exp=None),  # no expiry at all
        _token(key, "k1", sub=None),
        _token(key, "k1", roles=["province-operator:7"]),  # a scope naming no province
        _token(key, "k1", roles="national-operator"),  # not a list
        _token(_rsa("k1"), "k1"),  # the right kid, another key's signature
        _token(OctKey.import_key(b"s" * 32), "k1", alg="HS256"),  # a shared-secret algorithm
        "not-a-token",
    ]
    for token in refused:
        with pytest.raises(InvalidToken):
            await verifier.verify(token)
    assert await verifier.verify(_token(key, "k1", exp=now - 10))  # within the leeway
    unsigned = _token(key, "k1").rsplit(".", 1)[0] + "."
    with pytest.raises(InvalidToken):
        await verifier.verify(unsigned)


async def test_a_rotated_key_is_fetched_once_per_cooldown() -> None:
    old, new = _rsa("k1"), _rsa("k2")
    jwks, clock = Jwks(old), Clock()
    verifier = _verifier(jwks, clock)
    await verifier.verify(_token(old, "k1"))
    assert jwks.fetches == 1
    jwks.keys.append(new)  # the provider rotates
    clock.now += 31
    assert (await verifier.verify(_token(new, "k2"))).subject == "agent-sari"
    assert jwks.fetches == 2
    # Tokens under keys nobody has do not hammer the provider: one fetch per cooldown.
    stranger = _rsa("k9")
    for _ in range(5):
        with pytest.raises(InvalidToken):
            await verifier.verify(_token(stranger, "k9"))
    assert jwks.fetches == 2
    clock.now += 31
    with pytest.raises(InvalidToken):
        await verifier.verify(_token(stranger, "k9"))
    assert jwks.fetches == 3


async def test_a_failed_fetch_keeps_the_last_good_keys() -> None:
    key = _rsa("k1")
    jwks, clock = Jwks(key), Clock()
    verifier = _verifier(jwks, clock)
    await verifier.verify(_token(key, "k1"))
    jwks.failing = True
    clock.now += 31
    with pytest.raises(InvalidToken):
        await verifier.verify(_token(_rsa("k2"), "k2"))  # a refresh was tried, and failed
    assert jwks.fetches == 2
    assert (await verifier.verify(_token(key, "k1"))).subject == "agent-sari"


async def test_a_jwks_file_is_read(tmp_path: Path) -> None:
    key = _rsa("file-1")
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    settings = AuthSettings(auth_issuer=ISSUER, auth_jwks_file=path)
    principal = await Verifier.from_settings(settings).verify(
        _token(key, "file-1", roles=["reporting-consumer"])
    )
    assert principal.grants == (Grant(Role.REPORTING_CONSUMER, None),)


def test_production_refuses_the_development_issuer(tmp_path: Path) -> None:
    from shared.settings import ServiceSettings

    class Settings(ServiceSettings, AuthSettings):
        service_name: str = "test"

    secret = "a-real-secret-for-this-test-only"
    with pytest.raises(ValueError, match="real issuer"):
        Settings(environment="production", secret_key=secret)
    with pytest.raises(ValueError, match="real issuer"):
        Settings(environment="production", secret_key=secret, auth_issuer=ISSUER)
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [development_key().as_dict(private=False)]}))
    ok = Settings(
        environment="production", secret_key=secret, auth_issuer=ISSUER, auth_jwks_file=jwks
    )
    assert not ok.development_issuer and AuthSettings().auth_issuer == DEV_ISSUER


async def test_a_token_verified_once_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = _rsa("k1")
    verifier = _verifier(Jwks(key), leeway=0)
    issued = time.time()
    token = _token(key, "k1", exp=int(issued) + 1)
    assert (await verifier.verify(token)).subject == "agent-sari"
    assert (await verifier.verify(token)).subject == "agent-sari"  # remembered
    monkeypatch.setattr(time, "time", lambda: issued + 2.1)  # the wall clock, 2.1 s later
    with pytest.raises(InvalidToken):
        await verifier.verify(token)


async def test_a_key_taken_out_of_the_set_takes_its_verified_tokens_with_it() -> None:
    old, new = _rsa("k1"), _rsa("k2")
    jwks, clock = Jwks(old), Clock()
    verifier = _verifier(jwks, clock)
    signed_by_old = _token(old, "k1")
    await verifier.verify(signed_by_old)
    jwks.keys = [new]  # the provider revokes k1 and signs with k2
    clock.now += 31
    await verifier.verify(_token(new, "k2"))  # the unknown kid fetches the new set
    with pytest.raises(InvalidToken):
        await verifier.verify(signed_by_old)
