"""Every catalog event survives model → Kafka record (headers + body) → model, through the
real broker; readers tolerate unknown fields; invalid payloads are refused naming the field."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from shared.contracts.asyncapi import asyncapi_document, render
from shared.contracts.base import EventData
from shared.contracts.catalog import all_contracts, contract_for
from shared.contracts.envelope import InvalidEvent, from_kafka, to_kafka, wrap
from shared.contracts.inbound import IDS, OWNERS
from shared.contracts.platform import INBOUND_TOPIC
from shared.messaging.broker import Topics, ensure_topics, make_consumer, make_producer
from tests.unit.contracts.examples import example_events

EXAMPLES = example_events()
ROOT = Path(__file__).resolve().parents[2]


def _id(event: EventData) -> str:
    return type(event).__name__


async def test_every_event_round_trips_through_kafka(kafka_bootstrap: str, topics: Topics) -> None:
    topic = topics.name("contracts")
    await ensure_topics(kafka_bootstrap, {topic: 1})
    envelopes = [wrap(event, source="/pulih/tests") for event in EXAMPLES]
    producer = make_producer(kafka_bootstrap, client_id="contract-test")
    await producer.start()
    try:
        for envelope in envelopes:
            key, headers, value = to_kafka(envelope)
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    consumer = make_consumer(kafka_bootstrap, topic, group_id=None, client_id="contract-test")
    await consumer.start()
    received = []
    try:
        async with asyncio.timeout(30):
            while len(received) < len(envelopes):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    received.extend(records)
    finally:
        await consumer.stop()

    assert len(received) == len(envelopes)
    for sent, record in zip(envelopes, received, strict=True):
        header_names = {name for name, _ in record.headers}
        assert {
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_specversion",
            "ce_time",
            "ce_subject",
        } <= header_names
        back = from_kafka(record.headers, record.key, record.value)
        assert back.data == sent.data
        assert (back.id, back.type, back.source, back.subject) == (
            sent.id,
            sent.type,
            sent.source,
            sent.subject,
        )
        assert back.time == sent.time
        assert record.key == sent.subject.encode()


@pytest.mark.parametrize("event", EXAMPLES, ids=_id)
def test_readers_ignore_unknown_fields(event: EventData) -> None:
    key, headers, value = to_kafka(wrap(event, source="/pulih/tests"))
    body = json.loads(value)
    body["field_added_in_a_later_minor_version"] = {"anything": [1, 2, 3]}
    back = from_kafka([*headers, ("x-unknown-header", b"1")], key, json.dumps(body).encode())
    assert back.data == event


@pytest.mark.parametrize("event", EXAMPLES, ids=_id)
def test_invalid_payload_is_refused_naming_the_field(event: EventData) -> None:
    key, headers, value = to_kafka(wrap(event, source="/pulih/tests"))
    body = json.loads(value)
    required = next(name for name, f in type(event).model_fields.items() if f.is_required())
    body[required] = {"not": "what the contract says"}
    with pytest.raises(InvalidEvent) as refused:
        from_kafka(headers, key, json.dumps(body).encode())
    assert any(
        reason.field is not None and reason.field.split(".")[0] == required
        for reason in refused.value.reasons
    ), refused.value.reasons


def test_missing_attribute_and_unknown_type_are_named() -> None:
    key, headers, value = to_kafka(wrap(EXAMPLES[0], source="/pulih/tests"))
    without_id = [(n, v) for n, v in headers if n != "ce_id"]
    with pytest.raises(InvalidEvent) as missing:
        from_kafka(without_id, key, value)
    assert [r.field for r in missing.value.reasons] == ["ce_id"]

    renamed = [
        (n, b"id.go.bnn.ibm.nowhere.Nothing.v9" if n == "ce_type" else v) for n, v in headers
    ]
    with pytest.raises(InvalidEvent) as unknown:
        from_kafka(renamed, key, value)
    assert unknown.value.reasons[0].field == "ce_type"
    assert unknown.value.reasons[0].rule == "known-type"

    with pytest.raises(InvalidEvent) as not_json:
        from_kafka(headers, key, b"{not json")
    assert not_json.value.reasons


def test_catalog_holds_the_v1_minimum() -> None:
    names = {c.event_name for c in all_contracts()}
    assert {
        "UnitFormed",
        "UnitStatusChanged",
        "UnitFundingRecorded",
        "RecoveryAgentAppointed",
        "RecoveryAgentTrained",
        "RecoveryAgentDeactivated",
        "ClientScreened",
        "ClientEnrolled",
        "CaseStageChanged",
        "ClientReferred",
        "ReferralResolved",
        "CaseClosed",
        "RelapseReported",
        "CasePlanCreated",
        "SessionCompleted",
        "SessionMissed",
        "SessionOverdue",
        "ActivityHeld",
        "EventAccepted",
        "EventRejected",
    } <= names


def test_generated_docs_are_current() -> None:
    """docs/asyncapi.json and docs/schemas/ are generated from the code: `make docs`."""
    stale = [
        str(path.relative_to(ROOT))
        for path, content in render(ROOT / "docs").items()
        if not path.exists() or path.read_text() != content
    ]
    assert not stale, f"stale generated docs, run `make docs`: {stale}"
    document = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    assert document["asyncapi"].startswith("3.")
    described = json.dumps(document)
    for cls in all_contracts():
        assert cls.event_type in described


def test_every_type_a_province_may_send_is_documented_as_sent_on_the_inbound_channel() -> None:
    """A provincial developer finds, for each accepted type, the channel, who answers, the ids,
    the key and the headers, and an example message that the platform itself would accept."""
    document = asyncapi_document()
    for event_type, service in OWNERS.items():
        cls = contract_for(event_type)
        channel = document["channels"][f"{INBOUND_TOPIC}:{cls.event_name}.v{cls.version}"]
        assert channel["address"] == INBOUND_TOPIC
        assert f"by {service}." in channel["description"]
        assert IDS[cls.event_name] in channel["description"]
        message = document["components"]["messages"][
            f"{INBOUND_TOPIC}:{cls.event_name}.v{cls.version}:Message"
        ]
        assert "correlationId" not in message
        assert message["headers"]["properties"]["ce_type"]["const"] == event_type
        [example] = message["examples"]
        headers = {name: value.encode() for name, value in example["headers"].items()}
        envelope = from_kafka(
            list(headers.items()), headers["ce_subject"], json.dumps(example["payload"]).encode()
        )
        assert envelope.type == event_type
        assert envelope.subject == headers["ce_subject"].decode() == envelope.data.subject()
