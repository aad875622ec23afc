"""Field groups of the event contracts: a nested part, the unit and region every domain event
carries, and the rule that a change must change something."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.contracts.base import EventData
from shared.contracts.types.values import EntityId, ProvinceCode, VillageCode


class ContractPart(BaseModel):
    """A nested object inside an event: tolerant and immutable like the event itself."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class UnitScopedEvent(EventData):
    """Fields every domain event carries so reporting can aggregate by region and unit.

    The region is the unit's village, never a client's home: the unit's place is public, a
    client's address is not.
    """

    unit_id: EntityId = Field(
        description="Id of the unit IBM the fact belongs to.",
        examples=["01JB7Q2M5X9R3T8V6W4Y2Z0A1C"],
    )
    province_code: ProvinceCode = Field(
        description="Kemendagri province code of the unit's village (2 digits).",
        examples=["74"],
    )
    village_code: VillageCode = Field(
        description="Kemendagri code of the village (desa/kelurahan) where the unit is formed.",
        examples=["74.71.01.1001"],
    )

    @field_validator("village_code")
    @classmethod
    def _village_in_province(cls, value: str, info: ValidationInfo) -> str:
        province = info.data.get("province_code")
        if province is not None and not value.startswith(f"{province}."):
            raise ValueError(f"village code must lie in province {province}")
        return value


def require_different(value: object, info: ValidationInfo, other: str) -> None:
    """Reject a change event whose new value equals the old one (nothing happened)."""
    if info.data.get(other) == value:
        raise ValueError(f"must differ from {other}")
