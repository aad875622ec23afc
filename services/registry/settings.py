"""Settings of the registry service (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from shared.settings import ServiceSettings

SERVICE_NAME = "registry"


class Settings(ServiceSettings):
    service_name: str = SERVICE_NAME
