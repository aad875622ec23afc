"""A province's system as the simulator plays it: facts sent on its inbound topic (or through
the gateway's `POST /ingest`), answers read from its receipts topic, villages from the
registry's API, a case's sessions from the gateway's `GET /plans/{case_id}`."""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from shared.contracts import client_case_inbound as cases
from shared.contracts.base import EventData
from shared.contracts.envelope import Headers, from_kafka, to_kafka, wrap
from shared.contracts.platform import EventAccepted, EventRejected
from shared.messaging.broker import Topics, make_consumer, make_producer, partitions_of
from shared.security.tokens import development_token
from shared.simulation.outcome import Outcome
from shared.simulation.programme import Village

T = TypeVar("T")
CASE_FACTS = (
    cases.EnrolmentSubmitted,
    cases.StageChangeSubmitted,
    cases.ReferralSubmitted,
    cases.ReferralResolutionSubmitted,
    cases.RelapseSubmitted,
    cases.TransferSubmitted,
    cases.ClosureSubmitted,
)
"""A case's later facts: naming an unknown screening, they are refused (known-submission)."""
SEND_SLICE = 50_000
"""Facts a phase publishes before it waits for their answers (a big province's sessions are
a million; their records would take a gigabyte at once)."""
INGEST_BATCH = 500
"""Events per `POST /ingest` (the gateway's default limit)."""
RECEIPTS_WAIT_SECONDS = 600
"""How long a phase waits for an answer while none comes: a message without one is a lost
message."""


async def reconnecting(connect: Callable[[], Awaitable[T]], seconds: float = 120) -> T:
    """Connect as a province's system does: while the broker is away (restarting, a network
    break), try again every second, up to `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            try:
                return await connect()
            except (KafkaError, OSError):
                await asyncio.sleep(1)


def _progress(province: str, done: int, of: int) -> None:
    """A progress bar of answers on a terminal (nothing when the output is a file)."""
    if not sys.stderr.isatty():
        return
    filled = int(30 * done / of) if of else 30
    sys.stderr.write(f"\r[{province}] answers {'#' * filled}{'.' * (30 - filled)} {done}/{of}")
    if done == of:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _structured(record: tuple[str, bytes, Headers, bytes]) -> dict[str, Any]:
    """A Kafka record as a structured CloudEvent for `POST /ingest`."""
    message_id, _key, headers, value = record
    attributes = {name[3:]: raw.decode() for name, raw in headers if name.startswith("ce_")}
    try:
        data = json.loads(value)
    except ValueError:
        data = {"not": "json"}
    return {**attributes, "id": message_id, "datacontenttype": "application/json", "data": data}


@dataclass
class Platform:
    """Where the province's system connects: the broker and the gateway."""

    bootstrap: str
    gateway: str
    topics: Topics = field(default_factory=Topics)


class Province:
    """One province's system: sends facts, reads its answers."""

    def __init__(
        self,
        platform: Platform,
        code: str,
        seed: int,
        say: Callable[[str], None],
        via: str = "kafka",
        rate: float | None = None,
    ):
        self.platform, self.code, self.say, self.via = platform, code, say, via
        self.rate = rate
        """Messages per second on the inbound topic (None: as fast as the broker takes them)."""
        self.sent_at: dict[str, float] = {}
        """When each message went out (monotonic clock), for freshness measurements."""
        self.source = f"/provinces/{code}/simulator"
        self.inbound = platform.topics.name(f"ibm.inbound.{code}")
        self.receipts = platform.topics.name(f"ibm.receipts.{code}")
        self.token = development_token([f"province-system:{code}"], subject=f"simrehab-{code}")
        self.reader_token = development_token([f"province-operator:{code}"])
        self.sent = 0
        self.seed = seed
        self.outcome = Outcome()

    async def villages(self, http: httpx.AsyncClient, wanted: int | None) -> list[Village]:
        """Villages of the province from the registry: a few districts of each regency, until
        there are three for each unit `wanted`; every village of the province if None."""
        headers = {"Authorization": f"Bearer {self.reader_token}"}
        every = wanted is None

        async def below(code: str, level: str) -> list[dict[str, Any]]:
            params = {"parent": code, "level": level, **({"limit": "1000"} if every else {})}
            answer = await http.get("/api/registry/regions", params=params, headers=headers)
            answer.raise_for_status()
            items: list[dict[str, Any]] = answer.json()["items"]
            return items

        found: list[Village] = []
        for regency in await below(self.code, "regency"):
            districts = await below(regency["code"], "district")
            for district in districts if every else districts[:2]:
                found += [
                    Village(v["code"], v["name"]) for v in await below(district["code"], "village")
                ]
            if wanted is not None and len(found) >= wanted * 3:
                break
        return found

    async def send(self, facts: Sequence[EventData]) -> dict[str, EventData]:
        """Publish the facts in order, on the inbound topic or through the gateway's
        `POST /ingest` (`via`); wait for one answer each. Returns the facts by the message id
        they were sent under."""
        by_id: dict[str, EventData] = {}
        for start in range(0, len(facts), SEND_SLICE):  # a slice's records at a time in memory
            in_slice: dict[str, EventData] = {}
            for fact in facts[start : start + SEND_SLICE]:
                self.sent += 1
                in_slice[f"sim{self.seed}-{self.code}-{self.sent:08d}"] = fact
            records = [
                (message_id, *to_kafka(wrap(fact, source=self.source, event_id=message_id)))
                for message_id, fact in in_slice.items()
            ]
            await self.send_records(records, in_slice)
            by_id.update(in_slice)
        return by_id

    async def send_records(
        self, records: Sequence[tuple[str, bytes, Headers, bytes]], kinds: dict[str, EventData]
    ) -> None:
        """Publish (message id, key, headers, value) records; wait for the answer to each.
        `kinds` names each id's fact, for counting."""
        if not records:
            return
        start = await self._ends()
        if self.via == "ingest":
            waiting = await self._ingest(records, kinds)
        else:
            waiting = {message_id for message_id, *_ in records}
            producer = make_producer(self.platform.bootstrap, client_id=f"province-{self.code}")
            await reconnecting(producer.start)
            try:
                pending, begun = [], time.monotonic()
                for n, (message_id, key, headers, value) in enumerate(records):
                    if self.rate:  # a steady stream rather than everything at once
                        await asyncio.sleep(max(0.0, begun + n / self.rate - time.monotonic()))
                    pending.append(
                        await producer.send(self.inbound, value=value, key=key, headers=headers)
                    )
                    self.sent_at[message_id] = time.monotonic()
                await asyncio.gather(*pending)
            finally:
                await producer.stop()
        await self._answers(start, kinds, waiting)

    async def _ingest(
        self, records: Sequence[tuple[str, bytes, Headers, bytes]], kinds: dict[str, EventData]
    ) -> set[str]:
        """`POST /ingest` in batches the gateway takes: the gateway answers what breaks the
        contract itself; the ids it wrote to the inbound topic get receipts there."""
        written: set[str] = set()
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": "application/cloudevents-batch+json",
        }
        async with httpx.AsyncClient(base_url=self.platform.gateway, timeout=60) as http:
            for start in range(0, len(records), INGEST_BATCH):
                batch = [_structured(r) for r in records[start : start + INGEST_BATCH]]
                while True:
                    answer = await http.post("/ingest", content=json.dumps(batch), headers=headers)
                    if answer.status_code != 429:
                        break
                    await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
                answer.raise_for_status()
                for result in answer.json()["results"]:
                    message_id = batch[result["index"]]["id"]
                    if result["status"] == "accepted":
                        written.add(message_id)
                    else:
                        kind = type(kinds[message_id]).__name__
                        self.outcome.answers[message_id] = "rejected"
                        self.outcome.rejected_messages[kind] += 1
                        broken = [f"{r['field']} {r['rule']}" for r in result["reasons"]]
                        self.outcome.reasons[message_id] = broken
                        for reason in broken:
                            self.outcome.rejected[f"{kind}: {reason}"] += 1
        return written

    async def send_faults(
        self, rnd: random.Random, sent: dict[str, EventData], share: float
    ) -> None:
        """What real provinces also send, a `share` of the facts each: the same message again
        (answered as a duplicate), a body that breaks its contract, and a case's fact naming a
        screening the province never sent (both rejected). `outcome.faults` counts them."""
        count = max(1, int(len(sent) * share)) if share > 0 else 0
        if count == 0:
            return
        chosen = rnd.sample(sorted(sent), min(count, len(sent)))
        records: list[tuple[str, bytes, Headers, bytes]] = []
        kinds: dict[str, EventData] = {}
        for message_id in chosen:  # resent under the same id
            kinds[message_id] = sent[message_id]
            records.append(
                (
                    message_id,
                    *to_kafka(wrap(sent[message_id], source=self.source, event_id=message_id)),
                )
            )
        for n, message_id in enumerate(chosen):
            fact = sent[message_id]
            broken_id, stray_id = f"{message_id}-broken-{n}", f"{message_id}-stray-{n}"
            key, headers, _ = to_kafka(wrap(fact, source=self.source, event_id=broken_id))
            records.append((broken_id, key, headers, b'{"unit_id": 7}'))
            kinds[broken_id] = fact
            self.outcome.faults["duplicate"] += 1
            self.outcome.resent.add(message_id)
            self.outcome.planned[message_id] = "duplicate"
            self.outcome.faults["broken"] += 1
            self.outcome.planned[broken_id] = "rejected"
            if isinstance(fact, CASE_FACTS):
                self.outcome.faults["stray"] += 1
                self.outcome.planned[stray_id] = "rejected"
                stray = fact.model_copy(update={"submission_id": f"never-sent-{message_id}"})
                records.append(
                    (stray_id, *to_kafka(wrap(stray, source=self.source, event_id=stray_id)))
                )
                kinds[stray_id] = stray
        await self.send_records(records, kinds)

    async def _ends(self) -> dict[TopicPartition, int]:
        partitions = await reconnecting(
            lambda: partitions_of(self.platform.bootstrap, self.receipts)
        )
        consumer = make_consumer(self.platform.bootstrap, group_id=None, client_id="sim-probe")
        await reconnecting(consumer.start)
        try:
            return dict(await consumer.end_offsets(partitions))
        finally:
            await consumer.stop()

    async def _answers(
        self, start: dict[TopicPartition, int], kinds: dict[str, EventData], waiting: set[str]
    ) -> None:
        waiting = set(waiting)
        consumer = make_consumer(self.platform.bootstrap, group_id=None, client_id="sim-receipts")
        await reconnecting(consumer.start)
        try:
            consumer.assign(list(start))
            for partition, offset in start.items():
                consumer.seek(partition, offset)
            expected, loop = len(waiting), asyncio.get_running_loop()
            async with asyncio.timeout(RECEIPTS_WAIT_SECONDS) as stall:
                while waiting:
                    batches = await consumer.getmany(timeout_ms=1000)
                    for record in (r for records in batches.values() for r in records):
                        receipt = from_kafka(record.headers, record.key, record.value).data
                        assert isinstance(receipt, EventAccepted | EventRejected)
                        if receipt.original_event_id not in waiting:
                            continue
                        waiting.discard(receipt.original_event_id)
                        self._count(kinds[receipt.original_event_id], receipt)
                        stall.reschedule(loop.time() + RECEIPTS_WAIT_SECONDS)
                    _progress(self.code, expected - len(waiting), expected)
        finally:
            await consumer.stop()

    def _count(self, fact: EventData, receipt: EventAccepted | EventRejected) -> None:
        kind = type(fact).__name__
        if isinstance(receipt, EventRejected):
            self.outcome.answers[receipt.original_event_id] = "rejected"
            self.outcome.rejected_messages[kind] += 1
            broken = [f"{reason.field} {reason.rule}" for reason in receipt.reasons]
            self.outcome.reasons[receipt.original_event_id] = broken
            for reason in broken:
                self.outcome.rejected[f"{kind}: {reason}"] += 1
        elif receipt.duplicate:
            self.outcome.answers[receipt.original_event_id] = "duplicate"
            self.outcome.duplicates[kind] += 1
        else:
            self.outcome.answers[receipt.original_event_id] = "accepted"
            self.outcome.accepted[kind] += 1
            self.outcome.created[receipt.original_event_id] = dict(receipt.created)

    async def plan(self, http: httpx.AsyncClient, case_id: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with asyncio.timeout(RECEIPTS_WAIT_SECONDS):
            while True:
                try:
                    answer = await http.get(f"/plans/{case_id}", headers=headers)
                except httpx.TransportError:  # the gateway is restarting: a province retries
                    answer = None
                if answer is not None and answer.status_code == 200 and answer.json()["sessions"]:
                    sessions: list[dict[str, Any]] = answer.json()["sessions"]
                    return sessions
                await asyncio.sleep(0.2)  # scheduling plans it as the enrolment arrives
