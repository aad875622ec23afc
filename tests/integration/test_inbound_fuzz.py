"""Whatever a province sends, it gets exactly one answer, and a refusal says which field broke
which rule without repeating what was sent: hypothesis mutates the catalog's example messages
(a field dropped, a value of another type, a body that is not JSON, a type nobody accepts) and
every one goes through the real inbound path of the registry and client-case."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contracts.base import example_of
from shared.contracts.catalog import contract_for
from shared.contracts.envelope import to_kafka, wrap
from shared.contracts.inbound import OWNERS
from shared.contracts.platform import EventRejected
from shared.messaging.broker import make_producer, topic_size
from tests.bus import read_to_end
from tests.eventually import eventually
from tests.integration.conftest import Platform

TYPES = sorted(t for t, owner in OWNERS.items() if owner in ("registry", "client-case"))
"""The types the services of the `platform` fixture answer (scheduling's are not running)."""
MARKER = "fuzz-secret-"
"""Every generated text value starts with this: no answer may repeat it."""

values = st.one_of(
    st.none(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.booleans(),
    st.text(min_size=1, max_size=20).map(lambda t: f"{MARKER}{t}"),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes]:
    """(ce_type, body) of one mutated message."""
    event_type = draw(st.sampled_from([*TYPES, "id.go.bnn.ibm.nobody.Unknown.v1"]))
    if event_type not in OWNERS:
        return event_type, b"{}"
    body: dict[str, Any] = example_of(contract_for(event_type)).model_dump(mode="json")
    change = draw(st.sampled_from(["drop", "retype", "not-json", "extra"]))
    field = draw(st.sampled_from(sorted(body)))
    if change == "drop":
        del body[field]
    elif change == "retype":
        body[field] = draw(values)
    elif change == "not-json":
        return event_type, draw(st.binary(min_size=1, max_size=40)).replace(b"{", b"(")
    else:
        body[f"{MARKER}extra"] = draw(values)
    return event_type, json.dumps(body).encode()


@settings(
    max_examples=2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(messages(), min_size=25, max_size=25))
async def test_every_mutated_message_gets_one_answer_that_repeats_nothing(
    platform: Platform, batch: list[tuple[str, bytes]]
) -> None:
    p = platform
    inbound, receipts = p.topics.name("ibm.inbound.74"), p.topics.name("ibm.receipts.74")
    run = uuid.uuid4().hex[:8]
    template = example_of(contract_for(TYPES[0]))
    producer = make_producer(p.bootstrap, client_id="province-74-fuzz")
    await producer.start()
    sent = []
    try:
        for n, (event_type, body) in enumerate(batch):
            message_id = f"fuzz-{run}-{n}"
            key, headers, _ = to_kafka(
                wrap(template, source="/provinces/74/x", event_id=message_id)
            )
            headers = [(k, event_type.encode() if k == "ce_type" else v) for k, v in headers]
            await producer.send_and_wait(inbound, value=body, key=key, headers=headers)
            sent.append(message_id)
    finally:
        await producer.stop()

    async def answers() -> list[Any]:
        answered = await read_to_end(p.bootstrap, receipts)
        return [e.data for e in answered if e.data.original_event_id in sent]  # type: ignore[union-attr]

    async def each_answered() -> bool:
        return len({a.original_event_id for a in await answers()}) == len(sent)

    await eventually(each_answered, 60, every=0.5)
    await asyncio.sleep(1)  # an answer given twice would be here by now
    mine = await answers()
    assert sorted(a.original_event_id for a in mine) == sorted(sent)  # exactly one each
    for answer in mine:
        text = answer.model_dump_json()
        assert MARKER not in text, text  # no submitted value repeated
        if isinstance(answer, EventRejected):
            assert answer.reasons and all(r.rule for r in answer.reasons)
    for group in ("registry", "client-case"):
        assert await topic_size(p.bootstrap, p.topics.dead_letter(group)) == 0
