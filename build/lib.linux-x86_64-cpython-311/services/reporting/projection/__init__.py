"""From canonical events to fact rows: what each event says about which row of the read model.

Pure functions, no I/O. An event becomes zero or more `Fact`s (table, natural key, the columns
it knows); a batch folds its facts per row, later events overriding earlier ones column by
column, so one upsert per row and table goes to the database however many events touched it.

`reading` says how an event is read (the fields its rule needs, checked by the contract's own
types); `rules` holds one rule per event type that feeds an indicator, and the rejections a
province's receipts report; `batch` folds a batch's facts per row.
"""

from __future__ import annotations

# Imported here so that every rule is registered before any event is read.
from services.reporting.projection import rules as rules
