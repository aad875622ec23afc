"""CloudEvents 1.0 in Kafka binary content mode: attributes in `ce_*` headers, data as JSON body.

The CloudEvents SDK does the binding; this module maps our contracts onto it and turns every
way a message can be wrong into an `InvalidEvent` whose reasons name the field and the rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary_event
from pydantic import ValidationError

from shared.contracts.base import EventData
from shared.contracts.catalog import UnknownEventType, contract_for

SPECVERSION = "1.0"
REQUIRED_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion")
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True)
class Reason:
    """Why an event was refused: the field (dotted path, or None for the whole event) and rule."""

    field: str | None
    rule: str
    message: str


class InvalidEvent(ValueError):
    """A message that is not a valid event of the catalog. Never retried: receipt or DLQ."""

    def __init__(self, reasons: Iterable[Reason]) -> None:
        self.reasons = list(reasons)
        super().__init__(
            "; ".join(f"{r.field or 'event'}: {r.message} ({r.rule})" for r in self.reasons)
        )


@dataclass(frozen=True)
class Envelope:
    """One event as it travels: CloudEvents attributes plus the typed data."""

    id: str
    source: str
    type: str
    time: datetime
    subject: str
    data: EventData
    extensions: dict[str, str] = field(default_factory=dict)
    received_from: str | None = None
    """The topic a consumer read the event from (set by the consumer, not sent)."""

    @property
    def topic(self) -> str:
        return self.data.topic

    @property
    def key(self) -> bytes:
        return self.subject.encode()


def wrap(
    data: EventData, *, source: str, event_id: str | None = None, time: datetime | None = None
) -> Envelope:
    return Envelope(
        id=event_id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        time=time or datetime.now(UTC),
        subject=data.subject(),
        data=data,
    )


def to_kafka(envelope: Envelope) -> tuple[bytes, Headers, bytes]:
    """Key, headers and value of the Kafka record for an envelope (binary content mode): the
    bytes the CloudEvents SDK's Kafka binding writes, without building an SDK event first (a
    third of the cost of staging an outbox row)."""
    headers = [(name, value.encode()) for name, value in header_values(envelope)]
    return envelope.key, headers, envelope.data.model_dump_json().encode()


def header_values(envelope: Envelope) -> list[tuple[str, str]]:
    """The record's `ce_*` and content-type headers as text (the outbox stores them so)."""
    time = envelope.time.isoformat()
    if time.endswith("+00:00"):
        time = time[:-6] + "Z"
    return [
        ("ce_id", envelope.id),
        ("ce_source", envelope.source),
        ("ce_type", envelope.type),
        ("ce_specversion", SPECVERSION),
        ("ce_time", time),
        ("ce_subject", envelope.subject),
        ("content-type", "application/json"),
        *((f"ce_{name}", str(value)) for name, value in envelope.extensions.items()),
    ]


def _check_required(header_map: dict[str, bytes]) -> None:
    missing = [
        Reason(name, "required", f"header {name} is missing")
        for name in REQUIRED_HEADERS
        if name not in header_map
    ]
    if missing:
        raise InvalidEvent(missing)
    if header_map["ce_specversion"] != SPECVERSION.encode():
        raise InvalidEvent(
            [Reason("ce_specversion", "equals:1.0", "only CloudEvents 1.0 is accepted")]
        )


def from_kafka(
    headers: Iterable[tuple[str, bytes]], key: bytes | None, value: bytes | None
) -> Envelope:
    """Parse and validate one Kafka record; raise `InvalidEvent` naming every problem found."""
    header_map = {
        name.lower(): raw
        for name, raw in headers
        if name.lower().startswith("ce_") or name.lower() == "content-type"
    }
    _check_required(header_map)
    try:
        event_type = header_map["ce_type"].decode()
        contract_cls = contract_for(event_type)
    except UnicodeDecodeError:
        raise InvalidEvent([Reason("ce_type", "utf-8", "header is not UTF-8")]) from None
    except UnknownEventType:
        raise InvalidEvent(
            [Reason("ce_type", "known-type", f"{event_type!r} is not in the event catalog")]
        ) from None
    try:
        event = from_binary_event(KafkaMessage(headers=header_map, key=key, value=value or b""))
    except Exception as exc:  # noqa: BLE001 - the SDK raises several kinds for a broken message
        raise InvalidEvent(
            [Reason(None, "cloudevents-binary", f"not a CloudEvent: {exc}")]
        ) from None
    payload = event.get_data()
    try:
        data = contract_cls.model_validate(payload)
    except ValidationError as exc:
        raise InvalidEvent(_reasons(exc)) from None
    attributes = event.get_attributes()
    time = event.get_time() or datetime.now(UTC)
    known = {
        "id",
        "source",
        "type",
        "specversion",
        "time",
        "subject",
        "datacontenttype",
        "partitionkey",
        "dataschema",
    }
    return Envelope(
        id=event.get_id(),
        source=event.get_source(),
        type=event_type,
        time=time,
        subject=event.get_subject() or data.subject(),
        data=data,
        extensions={k: str(v) for k, v in attributes.items() if k not in known},
    )


def from_kafka_lean(
    headers: Iterable[tuple[str, bytes]], key: bytes | None, value: bytes | None
) -> Envelope:
    """`from_kafka` for bulk readers of canonical topics (projections, replays): the same
    header and contract checks, the JSON body parsed and validated by pydantic's own parser
    in one pass (about four times faster than building a CloudEvent first)."""
    header_map = dict(headers)  # the Kafka binding's ce_ headers are lower case
    if any(name not in header_map for name in REQUIRED_HEADERS):
        header_map = {name.lower(): raw for name, raw in header_map.items()}
    _check_required(header_map)
    try:
        event_type = header_map["ce_type"].decode()
        contract_cls = contract_for(event_type)
        data = contract_cls.model_validate_json(value or b"")
        raw_time = header_map.get("ce_time")
        time = datetime.fromisoformat(raw_time.decode()) if raw_time else datetime.now(UTC)
    except UnicodeDecodeError:
        raise InvalidEvent([Reason(None, "utf-8", "a header is not UTF-8")]) from None
    except UnknownEventType:
        raise InvalidEvent(
            [Reason("ce_type", "known-type", f"{event_type!r} is not in the event catalog")]
        ) from None
    except ValidationError as exc:
        raise InvalidEvent(_reasons(exc)) from None
    except ValueError:
        raise InvalidEvent([Reason("ce_time", "rfc3339", "not an RFC 3339 time")]) from None
    subject = header_map.get("ce_subject")
    return Envelope(
        id=header_map["ce_id"].decode(errors="replace"),
        source=header_map["ce_source"].decode(errors="replace"),
        type=event_type,
        time=time if time.tzinfo else time.replace(tzinfo=UTC),
        subject=subject.decode(errors="replace") if subject else data.subject(),
        data=data,
    )


def _reasons(exc: ValidationError) -> list[Reason]:
    reasons = []
    for error in exc.errors():
        path = ".".join(str(part) for part in error["loc"]) or None
        reasons.append(Reason(path, str(error["type"]), str(error["msg"])))
    return reasons


def header(headers: Iterable[tuple[str, bytes]], name: str) -> str | None:
    for key, raw in headers:
        if key.lower() == name:
            return raw.decode(errors="replace")
    return None


def as_json(data: EventData) -> dict[str, Any]:
    return data.model_dump(mode="json")
