"""Settings of the gateway (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from shared.settings import ServiceSettings

SERVICE_NAME = "gateway"


class Settings(ServiceSettings):
    service_name: str = SERVICE_NAME
