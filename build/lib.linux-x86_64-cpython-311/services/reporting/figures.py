"""What the API answers with: a period, a question about an indicator, and rows whose
figures carry their lineage (or say they are withheld)."""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from services.reporting import cube
from shared.regions import time_zone_of
from shared.rules import Violation, check

PERIOD = re.compile(r"(?P<year>\d{4})(?:-(?P<month>\d{2})|-Q(?P<quarter>\d)|\.\.(?P<until>\d{4}))?")
REGION = re.compile(r"(\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?)?")
FORMS = "a year (2026), a month (2026-05), a quarter (2024-Q3) or a range of years (2021..2023)"


@dataclass(frozen=True)
class Period:
    """A year, a month, a quarter (`2024-Q3`) or a range of whole years (`2021..2023`)."""

    year: int
    month: int | None = None
    quarter: int | None = None
    until: int | None = None
    """The last year of a range (None otherwise)."""

    @classmethod
    def parse(cls, text: str, field: str = "period", years_only: bool = False) -> Period:
        """The period `text` names, or a problem naming `field` and the rule it breaks."""
        match = PERIOD.fullmatch(text)
        found: Period | None = None
        if match and all(2000 <= int(y) <= 2100 for y in (match["year"], match["until"]) if y):
            month, quarter, until = (
                int(match[g]) if match[g] else None for g in ("month", "quarter", "until")
            )
            if (month is None or 1 <= month <= 12) and (quarter is None or 1 <= quarter <= 4):
                found = cls(int(match["year"]), month, quarter, until)
        if found is None:
            forms = "a year (2021) or a range of years (2021..2023)" if years_only else FORMS
            check([Violation(field, "period-form", forms)])
        assert found is not None
        problems = []
        if found.until is not None and found.until <= found.year:
            problems.append(
                Violation(field, "range-order", "a range runs from one year to a later one")
            )
        if years_only and not found.whole_years:
            problems.append(
                Violation(field, "years-only", "a year (2021) or a range of years (2021..2023)")
            )
        check(problems)
        return found

    def __str__(self) -> str:
        if self.month is not None:
            return f"{self.year}-{self.month:02d}"
        if self.quarter is not None:
            return f"{self.year}-Q{self.quarter}"
        if self.until is not None:
            return f"{self.year}..{self.until}"
        return f"{self.year}"

    @property
    def whole_years(self) -> bool:
        return self.month is None and self.quarter is None

    @property
    def years(self) -> range:
        return range(self.year, (self.until or self.year) + 1)

    @property
    def months(self) -> list[str]:
        """The months of a month or a quarter (`YYYY-MM`); a year's or range's are its years'."""
        if self.month is not None:
            return [str(self)]
        if self.quarter is not None:
            first = 3 * self.quarter - 2
            return [f"{self.year}-{m:02d}" for m in range(first, first + 3)]
        return [f"{y}-{m:02d}" for y in self.years for m in range(1, 13)]

    @property
    def start(self) -> date:
        first = self.month or (3 * self.quarter - 2 if self.quarter else 1)
        return date(self.year, first, 1)

    @property
    def end(self) -> date:
        year = self.until or self.year
        month = self.month or (3 * self.quarter if self.quarter else 12)
        return date(year, month, monthrange(year, month)[1])

    @property
    def last_begins(self) -> date:
        """When the period's last year (or its month, or quarter) begins."""
        return date(self.until, 1, 1) if self.until is not None else self.start

    def describe(self) -> str:
        """For definitions: `2024`, `2021 to 2023`, `2024-Q3`."""
        return f"{self.year} to {self.until}" if self.until is not None else str(self)


@dataclass
class Row:
    region: str
    part: str
    value: float | None
    withheld: bool = False
    events: int | None = None
    latest_event_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    latest_received_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        """Times in the province's own zone (a screening at 10:00 WITA reads 10:00+08:00);
        Indonesia's in UTC."""
        zone = ZoneInfo(time_zone_of(self.region[:2])) if self.region else UTC
        happened, received = (
            t.astimezone(zone) if t is not None else None
            for t in (self.latest_event_at, self.latest_received_at)
        )
        return {
            "region": self.region,
            "level": cube.level_of(self.region),
            "part": self.part,
            "value": self.value,
            "withheld": self.withheld,
            "events": self.events,
            "latest_event_at": happened,
            "latest_received_at": received,
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
    min_units: int = 1
    """Client-derived figures below province level from fewer units are withheld."""
    cohort: Period | None = None
    """Units formed in these years (operational and sustained units only)."""
