"""Settings of the registry service (environment: PULIH_*, KAFKA_BOOTSTRAP_SERVERS)."""

from __future__ import annotations

from pydantic import Field

from shared.security.keys import MasterKeys
from shared.settings import ServiceSettings

SERVICE_NAME = "registry"


class Settings(ServiceSettings, MasterKeys):
    """The master keys wrap the data key each agent's display name is sealed under."""

    service_name: str = SERVICE_NAME
    bnnk_regencies: str = Field(
        default="all",
        description="Regencies/cities with a BNNK office: 'all', or codes separated by commas "
        "(e.g. '74.71,74.72'). Every province has its BNNP.",
    )

    load_regions_on_start: bool = Field(
        default=True, description="Load the official region tree when the database has none."
    )

    @property
    def bnnk(self) -> list[str] | str:
        if self.bnnk_regencies.strip() == "all":
            return "all"
        return [code.strip() for code in self.bnnk_regencies.split(",") if code.strip()]
