"""A batch's facts folded per row, with each row's lineage, and the refused submissions its
receipts reported."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Date, Table

from services.reporting import db
from services.reporting.projection.reading import Fact
from services.reporting.upserts import keys_of


class Batch:
    """Facts of one batch folded per row: one upsert per row however many events touched it.
    Each row's lineage: how many distinct events fed it, when the latest fact among them
    happened (`last_event_at`) and when the latest of them reached the platform
    (`last_received_at`, the event's CloudEvents time)."""

    def __init__(self) -> None:
        self.rows: dict[Table, dict[tuple[str, ...], dict[str, Any]]] = {
            t: {} for t in db.FACT_TABLES
        }
        self.rejections: dict[tuple[str, str], dict[str, Any]] = {}
        """Refused submissions by (province, the id it gave): the first receipt counts."""
        self.events = 0
        self.touched: set[tuple[str, int]] = set()
        """(province, year) of the facts folded: the suppressed cubes they change (year 0:
        every year's, for units, which place villages in every year's cubes, and for facts
        that carry no date of their own)."""

    def add(self, facts: Iterable[Fact], happened: datetime | None, received: datetime) -> None:
        """Fold one event's facts (`happened` and `received` in UTC, as `Reading.happened`
        gives it; None: when it was received). A fact's values dict becomes its row, with its
        natural key's columns, when the row is new."""
        self.events += 1
        if happened is None:
            happened = received
        rows, touched = self.rows, self.touched
        for table, key, values in facts:
            village = values.get("village_code")
            if village:  # no village, no cell below province level
                year = 0
                for column in _DATES[table]:
                    value = values.get(column)
                    if value is not None and (year == 0 or value.year < year):
                        year = value.year
                touched.add((village[:2], year))
            table_rows = rows[table]
            row = table_rows.get(key)
            if row is None:
                for name, value in zip(_KEYS[table], key, strict=False):  # a key, its names
                    values[name] = value
                values["events"] = 1
                values["last_event_at"] = happened
                values["last_received_at"] = received
                table_rows[key] = values
                continue
            row.update(values)
            row["events"] += 1
            if happened > row["last_event_at"]:
                row["last_event_at"] = happened
            if received > row["last_received_at"]:
                row["last_received_at"] = received

    def reject(self, rejection: dict[str, Any]) -> None:
        self.events += 1
        key = (rejection["province_code"], rejection["original_event_id"])
        self.rejections.setdefault(key, rejection)


_KEYS = {t: keys_of(t) for t in db.FACT_TABLES}
"""Each fact table's natural key columns, in the order of a fact's key."""

_DATES = {
    t: [c.name for c in t.columns if isinstance(c.type, Date)] if t is not db.units else []
    for t in db.FACT_TABLES
}
"""Each fact table's date columns: the years a fact about a row touches (none for units,
which place villages in every year's cubes)."""
