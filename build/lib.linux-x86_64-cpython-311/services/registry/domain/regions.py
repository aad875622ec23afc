"""Regions (Kemendagri codes) and where an actor may act in them: a `Scope`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


class RegionLevel(StrEnum):
    PROVINCE = "province"
    REGENCY = "regency"  # kabupaten (01-69) or kota (71-99)
    DISTRICT = "district"  # kecamatan
    VILLAGE = "village"  # desa (suffix 2xxx) or kelurahan (suffix 1xxx)


_LEVELS = tuple(RegionLevel)


def level_of(code: str) -> RegionLevel:
    """The level a Kemendagri code names, from its shape (74 / 74.71 / 74.71.01 / …1001)."""
    parts = code.split(".")
    if (
        not 1 <= len(parts) <= 4
        or not all(p.isdigit() for p in parts)
        or [len(p) for p in parts] != [2, 2, 2, 4][: len(parts)]
    ):
        raise ValueError(f"not a Kemendagri region code: {code!r}")
    return _LEVELS[len(parts) - 1]


def parent_of(code: str) -> str | None:
    head, _, _ = code.rpartition(".")
    return head or None


def province_of(code: str) -> str:
    return code[:2]


def is_kelurahan(village_code: str) -> bool:
    """Village codes whose last part starts with 1 are kelurahan (urban), 2 desa (rural)."""
    return village_code.rsplit(".", 1)[-1].startswith("1")


def office_region(office: str) -> str | None:
    """The region an office code names: BNNP-74 → 74, BNNK-74.71 → 74.71."""
    kind, _, code = office.partition("-")
    if kind == "BNNP" and len(code) == 2 and code.isdigit():
        return code
    if kind == "BNNK" and level_of_or_none(code) is RegionLevel.REGENCY:
        return code
    return None


def level_of_or_none(code: str) -> RegionLevel | None:
    try:
        return level_of(code)
    except ValueError:
        return None


@dataclass(frozen=True)
class Scope:
    """Where an actor may act: the whole country, or a set of regions (provinces, regencies)."""

    regions: tuple[str, ...] | None  # None: the whole country

    @classmethod
    def national(cls) -> Scope:
        return cls(None)

    @classmethod
    def of_regions(cls, *codes: str) -> Scope:
        for code in codes:
            level_of(code)
        return cls(tuple(codes))

    @cached_property
    def _prefixes(self) -> tuple[str, ...]:
        return tuple(f"{r}." for r in self.regions or ())

    def covers(self, code: str) -> bool:
        if self.regions is None:
            return True
        return code in self.regions or code.startswith(self._prefixes)
