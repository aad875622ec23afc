"""Settings of the gateway (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import Field

from shared.settings import ServiceSettings

SERVICE_NAME = "gateway"

UPSTREAMS = ("registry", "client-case", "scheduling", "reporting")


class Settings(ServiceSettings):
    service_name: str = SERVICE_NAME
    registry_url: str = Field(default="http://127.0.0.1:8001", description="The registry's API.")
    client_case_url: str = Field(default="http://127.0.0.1:8002", description="Client-case's API.")
    scheduling_url: str = Field(default="http://127.0.0.1:8003", description="Scheduling's API.")
    reporting_url: str = Field(default="http://127.0.0.1:8004", description="Reporting's API.")
    upstream_timeout_seconds: float = Field(
        default=10, gt=0, description="How long a proxied call may take before a 504."
    )
    overview_budget_seconds: float = Field(
        default=2, gt=0, description="Each service's share of an aggregated view's time."
    )
    overview_max_age_seconds: float = Field(
        default=2,
        ge=0,
        description="How long a complete overview is served again to the same caller (the "
        "same token) rather than assembled anew; its `as_of` says when it was (0: never).",
    )
    overview_stale_seconds: float = Field(
        default=30,
        ge=0,
        description="How long past its max age a kept overview is still served at once while "
        "a fresh one is assembled in the background (stale-while-revalidate); 0: the caller "
        "waits for the fresh one.",
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Failures in a row that open a service's circuit."
    )
    breaker_reset_seconds: float = Field(
        default=15, gt=0, description="How long an open circuit skips the service."
    )
    ingest_max_events: int = Field(default=500, ge=1, description="Events per ingest batch.")
    ingest_max_bytes: int = Field(default=1 << 20, ge=1, description="Bytes per ingest batch.")
    ingest_rate: str = Field(
        default="2000/second",
        description="Events each province may ingest, as `limits` notation (e.g. 2000/second).",
    )

    def upstream(self, service: str) -> str:
        return {
            "registry": self.registry_url,
            "client-case": self.client_case_url,
            "scheduling": self.scheduling_url,
            "reporting": self.reporting_url,
        }[service]
