"""Composition root of the gateway: one origin for people, the dashboard and provinces. It owns
no database; it verifies tokens, proxies the services' APIs, aggregates views and takes
provinces' batches onto Kafka."""

from __future__ import annotations

from fastapi import FastAPI

from services.gateway import dashboard, ingest, overview, proxy
from services.gateway.settings import SERVICE_NAME, Settings
from services.gateway.upstream import Upstreams
from shared.http import install_domain_errors
from shared.runtime import Runtime, ServiceSpec, create_app


def _configure(app: FastAPI) -> None:
    settings: Settings = app.state.runtime.settings
    app.state.upstreams = Upstreams(settings)
    app.state.runtime.closing.append(app.state.upstreams.close)
    app.state.rate_limit = ingest.RateLimit(settings.ingest_rate)
    app.state.views = overview.Views(
        settings.overview_max_age_seconds, settings.overview_stale_seconds
    )
    install_domain_errors(app, rules_of="gateway", problems={})


SPEC = ServiceSpec[Settings](
    name=SERVICE_NAME,
    routers=[dashboard.router, ingest.router, overview.router, proxy.router],
    configure_app=_configure,
)


def build(settings: Settings | None = None) -> FastAPI:
    return create_app(Runtime(SPEC, settings or Settings()))
