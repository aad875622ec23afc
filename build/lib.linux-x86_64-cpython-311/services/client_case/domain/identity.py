"""What a unit may know of a person."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    """What a unit may know of a person. Every field optional: anonymous service is allowed."""

    nik: str | None = None
    name: str | None = None
    phone: str | None = None
    address: str | None = None
    label: str | None = None
    """A short label the unit chooses to know the person by (e.g. on its worklist)."""

    def fields(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}
