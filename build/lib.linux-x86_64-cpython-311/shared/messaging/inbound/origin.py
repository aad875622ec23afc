"""Where an inbound record came from: the provinces' inbound topics and the province each
speaks for, also for a dead letter redriven after a fix."""

from __future__ import annotations

from typing import TypeAlias

from aiokafka import ConsumerRecord

from shared.contracts.envelope import header

INBOUND_PATTERN = r"ibm\.inbound\.\d{2}"

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"


def province_of_topic(topic: str) -> str:
    return topic.rsplit(".", 1)[-1]


def is_inbound(topic: str) -> bool:
    return ".ibm.inbound." in f".{topic}"


def inbound_origin(record: Record) -> str | None:
    """The inbound topic a record came from: its own, or, for a dead letter redriven after a
    fix, the one it was first published on."""
    if is_inbound(record.topic):
        return str(record.topic)
    original = header(record.headers or (), "dlq_original_topic")
    return original if original and is_inbound(original) else None


def province_of_record(record: Record) -> str:
    return province_of_topic(inbound_origin(record) or record.topic)
