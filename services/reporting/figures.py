"""What the API answers with: a period, a question about an indicator, and rows whose
figures carry their lineage (or say they are withheld)."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from services.reporting import cube
from shared.rules import Violation, check

PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2}))?")
REGION = re.compile(r"(\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)?")


@dataclass(frozen=True)
class Period:
    year: int
    month: int | None = None

    @classmethod
    def parse(cls, text: str) -> Period:
        match = PERIOD.fullmatch(text)
        if match and 2000 <= int(match["year"]) <= 2100:
            month = match["month"]
            if month is None or 1 <= int(month) <= 12:
                return cls(int(match["year"]), int(month) if month else None)
        check([Violation("period", "year-or-month", "a year (2026) or a month (2026-05)")])
        raise AssertionError  # unreachable

    def __str__(self) -> str:
        return f"{self.year}" if self.month is None else f"{self.year}-{self.month:02d}"

    @property
    def start(self) -> date:
        return date(self.year, self.month or 1, 1)

    @property
    def end(self) -> date:
        month = self.month or 12
        return date(self.year, month, monthrange(self.year, month)[1])


@dataclass
class Row:
    region: str
    part: str
    value: float | None
    withheld: bool = False
    events: int | None = None
    latest_event_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "level": cube.level_of(self.region),
            "part": self.part,
            "value": self.value,
            "withheld": self.withheld,
            "events": self.events,
            "latest_event_at": self.latest_event_at,
            **self.extra,
        }


@dataclass(frozen=True)
class Ask:
    indicator: str
    period: Period
    level: str
    within: str
    by: str | None
    k: int
    window_months: int = 1
    targets: Path | None = None
    cube_max_age: float = 0.0
