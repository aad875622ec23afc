"""A batch's facts folded per row, with each row's lineage, and the refused submissions its
receipts reported."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table

from services.reporting import db
from services.reporting.projection.reading import start_of_day
from services.reporting.projection.rules import rejection_of
from shared.contracts.platform import EventRejected

if TYPE_CHECKING:
    from services.reporting.decoding import Decoded


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
        self.applied: dict[str, int] = {}
        """Events folded by topic."""
        self.touched: set[tuple[str, int]] = set()
        """(province, year) of the facts folded: the suppressed cubes they change (year 0:
        every year's, for units, which place villages in every year's cubes)."""

    def fold(self, event: Decoded) -> None:
        """Fold one event: its facts (a new row is its fact's values, key columns included,
        with its lineage), or its refused submission. The year of the cubes a fact changes
        is that of the day it happened (`Reading.when`, local); units place villages in every
        year's (year 0)."""
        event_id, topic, reading, fields, received = event
        self.events += 1
        self.applied[topic] = self.applied.get(topic, 0) + 1
        if reading.contract is EventRejected:
            refused = (fields["province_code"], fields["original_event_id"])
            if refused not in self.rejections:
                self.rejections[refused] = rejection_of(fields, received)
            return
        if reading.rule is None:
            return
        facts = reading.rule(fields, event_id)
        when = fields[reading.when]
        if isinstance(when, datetime):
            happened = when.astimezone(UTC)
        else:
            happened = start_of_day(when, fields["province_code"])
        province = fields["village_code"][:2]  # the cubes the rows' villages are in
        rows, touched, year = self.rows, self.touched, when.year
        for table, key, values in facts:
            touched.add((province, 0 if table is db.units else year))
            table_rows = rows[table]
            row = table_rows.get(key)
            if row is None:
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
