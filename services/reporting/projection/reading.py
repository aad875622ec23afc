"""How the projection reads one event type: the fields its rule needs, each checked by its
contract's own type, and when the fact it reports happened. The rules register themselves
here (`_rule`, in `rules.py`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import Annotated, Any, NotRequired
from zoneinfo import ZoneInfo

import msgspec
from pydantic import TypeAdapter
from sqlalchemy import Table
from typing_extensions import TypedDict

from services.reporting.projection.decoders import FastReader, fast_reader
from shared.contracts.base import EventData
from shared.contracts.catalog import all_contracts
from shared.regions import time_zone_of

Read = dict[str, Any]
"""The fields of one event that the projection reads, each checked by its contract's own type
(patterns, lengths, enums, dates), nothing else of the event built."""
Fact = tuple[Table, tuple[str, ...], dict[str, Any]]
"""A row an event touches: its table, natural key and the columns the event knows (the key's
included: a new row is its values)."""
Rule = Callable[[Read, str], list[Fact]]

_WHERE = ("unit_id", "province_code", "village_code")
"""Read from every unit-scoped event: the row's unit and village, the province's time zone."""


@dataclass(frozen=True)
class Reading:
    """How the projection reads one event type: a validator built once from the contract's
    annotations of the fields its rule needs (other fields and the contract's cross-field
    validators are not run again: the relay published only events that passed them, and what
    the read model keeps is checked), the rule, and the field saying when the fact happened."""

    contract: type[EventData]
    rule: Rule | None
    when: str
    """The field saying when the fact happened ("" for types that feed nothing)."""
    reader: TypeAdapter[Read]
    fast: FastReader
    """The same checks in C (`projection.decoders`): what it refuses, `reader` decides."""

    def read(self, body: bytes) -> Read:
        """The fields the rule needs, or pydantic's `ValidationError` naming what is wrong
        (a body that is not a JSON object included)."""
        fields = self.fast.read(body)
        return fields if fields is not None else self.reader.validate_json(body)


@lru_cache(maxsize=65536)
def start_of_day(day: date, province_code: str) -> datetime:
    """When a fact dated by day happened, in UTC: the start of its day in the province's time
    zone (an activity held on 10 March happened on the 10th, wherever the platform was when
    it heard). Facts with an instant of their own (a screening's) keep it."""
    return datetime.combine(day, time(), ZoneInfo(time_zone_of(province_code))).astimezone(UTC)


def _reader(contract: type[EventData], fields: Iterable[str]) -> TypeAdapter[Read]:
    annotations: dict[str, Any] = {}
    for name in fields:
        info = contract.model_fields[name]
        kind = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        if not info.is_required():
            if info.default is not None:  # a missing field reads as None (`.get`)
                raise TypeError(f"{contract.__name__}.{name}: a default other than None")
            kind = NotRequired[kind]
        annotations[name] = kind
    shape: Any = TypedDict  # built from the contract at import, not spelled out
    return TypeAdapter(shape(f"{contract.__name__}Read", annotations))


_READINGS: dict[str, Reading] = {}
"""By CloudEvents type."""


def _rule(contract: type[EventData], when: str, *reads: str) -> Callable[[Rule], Rule]:
    """Register how an event becomes facts: `when` names its field saying when it happened,
    `reads` the other fields the rule uses (the unit, province and village always)."""

    def register(rule: Rule) -> Rule:
        fields = list(dict.fromkeys((*_WHERE, when, *reads)))
        _READINGS[contract.event_type] = Reading(
            contract, rule, when, _reader(contract, fields), fast_reader(contract, fields)
        )
        return rule

    return register


def reading_of(event_type: str) -> Reading | None:
    """How to read an event of this type, or None for a type not in the catalog. Types that
    feed nothing are read as JSON objects only."""
    found = _READINGS.get(event_type)
    if found is None:
        for contract in all_contracts():
            if contract.event_type not in _READINGS:
                _READINGS[contract.event_type] = Reading(
                    contract, None, "", _ANY_OBJECT, _ANY_OBJECT_FAST
                )
        found = _READINGS.get(event_type)
    return found


_ANY_OBJECT: TypeAdapter[Read] = TypeAdapter(dict[str, Any])
_ANY_OBJECT_FAST = FastReader(msgspec.json.Decoder(dict[str, Any]), (), (), ())
