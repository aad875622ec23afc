"""The services behind the gateway: one HTTP client, a circuit breaker per service, and the
headers a call carries: the caller's own, with their token (each service verifies it again).

The client is httpx's API over aiohttp's connection pool and C HTTP parser: a profile of the
gateway at 200 requests/s spent most of its time in httpcore's pool bookkeeping (see
docs/benchmarks.md, read latency). Tests mount the services' apps in process instead."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
from httpx_aiohttp import AiohttpTransport

from services.gateway.settings import UPSTREAMS, Settings

# Hop-by-hop headers (RFC 9110 7.6.1) and what the gateway sets itself.
DROPPED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


@dataclass
class Breaker:
    """Opens after `failures` failures in a row: the service is skipped for `reset` seconds,
    then tried again (one call decides whether it closes)."""

    failures: int
    reset: float
    clock: object = time.monotonic
    _failed: int = 0
    _open_until: float = 0.0

    def allows(self) -> bool:
        return self._now() >= self._open_until

    def succeeded(self) -> None:
        self._failed, self._open_until = 0, 0.0

    def failed(self) -> None:
        self._failed += 1
        if self._failed >= self.failures:
            self._open_until = self._now() + self.reset

    def _now(self) -> float:
        clock = self.clock
        assert callable(clock)
        return float(clock())


def _client() -> httpx.AsyncClient:
    pool = httpx.Limits(max_connections=200, keepalive_expiry=30)
    return httpx.AsyncClient(transport=AiohttpTransport(limits=pool))


@dataclass
class Upstreams:
    settings: Settings
    client: httpx.AsyncClient = field(default_factory=_client)
    breakers: dict[str, Breaker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in UPSTREAMS:
            self.breakers[name] = Breaker(
                self.settings.breaker_failures, self.settings.breaker_reset_seconds
            )

    def url(self, service: str, path: str) -> str:
        return f"{self.settings.upstream(service).rstrip('/')}/{path.lstrip('/')}"

    async def close(self) -> None:
        await self.client.aclose()


def forwarded_headers(incoming: dict[str, str], authorization: str) -> dict[str, str]:
    """What a call to a service carries: the caller's own headers, less hop-by-hop ones, and
    their token, which the service verifies itself."""
    headers = {k: v for k, v in incoming.items() if k.lower() not in DROPPED}
    headers["authorization"] = authorization
    return headers
