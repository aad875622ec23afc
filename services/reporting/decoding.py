"""From a Kafka record of a canonical or receipts topic to what the projection folds.

The projector replays every event the platform ever published, so decoding is most of its
work. `shared.contracts.envelope.from_kafka_lean` builds each event's whole contract model;
here the same header checks are made and only the fields the event's rule reads are
validated, by a msgspec decoder built once per type from the contract's own annotations
(`projection.decoders`), and by pydantic where it refuses (`projection.Reading.read`). Those
fields keep every rule their contract gives them (patterns, lengths, enums, dates); the rest
of the event and the contract's cross-field validators are not run again, since the relay
published only events that passed them. A record that is not an event of the catalog, not
JSON, or lacks or breaks a field the projection reads raises `InvalidEvent` and goes to the
dead-letter topic as before.

A known event type with the usual headers takes one path (`decode`); anything else is checked
step by step (`_checked`), so that the first check that fails is the one named.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import ValidationError

from services.reporting.projection.reading import Read, Reading, reading_of
from shared.contracts.envelope import REQUIRED_HEADERS, SPECVERSION, InvalidEvent, Reason
from shared.contracts.platform import EventAccepted

_SPECVERSION = SPECVERSION.encode()
_REQUIRED = frozenset(REQUIRED_HEADERS)
_SKIPPED = {EventAccepted.event_type}
"""What was accepted arrives as the canonical event: its receipt feeds nothing."""


Decoded = tuple[str, str, Reading, Read, datetime]
"""One event of a batch: its id, its topic, how to read it, the fields read, when it arrived
(UTC). A plain tuple: a named one took a Python call to build, for every event of a replay."""


def decode(
    topic: str, headers: Iterable[tuple[str, bytes]], value: bytes | None
) -> tuple[Decoded | None, bool]:
    """The event a record carries (None for a receipt that feeds nothing) and whether the
    record carries a trace context (`traceparent`, for the batch's span), or `InvalidEvent`
    naming what is wrong."""
    header_map = dict(headers)  # the Kafka binding's ce_ headers are lower case
    traced = "traceparent" in header_map
    reading = _BY_TYPE.get(header_map.get("ce_type", b""))
    if (
        reading is None
        or header_map.get("ce_specversion") != _SPECVERSION
        or not header_map.keys() >= _REQUIRED
    ):
        return _checked(topic, header_map, value)
    try:
        fields = reading.read(value or b"")
        raw_time = header_map.get("ce_time")
        time = datetime.fromisoformat(raw_time.decode()) if raw_time else datetime.now(UTC)
        event_id = header_map["ce_id"].decode(errors="replace")
    except (UnicodeDecodeError, ValidationError, ValueError) as exc:
        raise _invalid(exc) from None
    received = time.astimezone(UTC) if time.tzinfo else time.replace(tzinfo=UTC)
    return (event_id, topic, reading, fields, received), traced


def _checked(
    topic: str, header_map: dict[str, bytes], value: bytes | None
) -> tuple[Decoded | None, bool]:
    """`decode` of a record that is not a known event's with the usual headers: every check
    made in turn, the first that fails named."""
    if not header_map.keys() >= _REQUIRED:
        header_map = {name.lower(): raw for name, raw in header_map.items()}
        missing = [
            Reason(name, "required", f"header {name} is missing")
            for name in REQUIRED_HEADERS
            if name not in header_map
        ]
        if missing:
            raise InvalidEvent(missing)
    if header_map["ce_specversion"] != _SPECVERSION:
        raise InvalidEvent(
            [Reason("ce_specversion", "equals:1.0", "only CloudEvents 1.0 is accepted")]
        )
    try:
        event_type = header_map["ce_type"].decode()
    except UnicodeDecodeError:
        raise InvalidEvent([Reason(None, "utf-8", "a header is not UTF-8")]) from None
    if event_type in _SKIPPED:
        return None, "traceparent" in header_map
    reading = reading_of(event_type)
    if reading is None:
        raise InvalidEvent(
            [Reason("ce_type", "known-type", f"{event_type!r} is not in the event catalog")]
        )
    _BY_TYPE[header_map["ce_type"]] = reading
    return decode(topic, header_map.items(), value)


def _invalid(exc: Exception) -> InvalidEvent:
    if isinstance(exc, UnicodeDecodeError):
        return InvalidEvent([Reason(None, "utf-8", "a header is not UTF-8")])
    if isinstance(exc, ValidationError):
        return InvalidEvent(
            Reason(".".join(str(p) for p in e["loc"]) or None, str(e["type"]), str(e["msg"]))
            for e in exc.errors()
        )
    return InvalidEvent([Reason("ce_time", "rfc3339", "not an RFC 3339 time")])


_BY_TYPE: dict[bytes, Reading] = {}
"""How to read each event type met so far, by its `ce_type` header as it arrives."""
