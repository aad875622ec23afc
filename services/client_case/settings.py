"""Settings of the client-case service (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from shared.settings import ServiceSettings

SERVICE_NAME = "client-case"


class Settings(ServiceSettings):
    service_name: str = SERVICE_NAME
