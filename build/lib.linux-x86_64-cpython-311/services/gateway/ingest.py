"""Provincial ingest over HTTPS, for provinces without a Kafka client.

`POST /ingest`: a batch of structured CloudEvents (`application/cloudevents-batch+json`), at
most `ingest_max_events` events and `ingest_max_bytes` bytes. Each event is checked against the
catalog here — an accepted inbound type, a valid body, the caller's own province — and written
to that province's inbound topic (`acks=all`) before the answer; the answer lists one result
per event, in request order. The owning service then answers each written event with a receipt
on the province's receipts topic, as for events sent with Kafka: `GET /receipts` reads them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from services.gateway.settings import Settings
from shared.contracts.catalog import UnknownEventType, contract_for
from shared.contracts.envelope import Envelope, InvalidEvent, from_kafka, to_kafka
from shared.contracts.inbound import OWNERS
from shared.contracts.platform import INBOUND_TOPIC, RECEIPTS_TOPIC
from shared.dependencies import CallerDep, RuntimeDep, SettingsDep
from shared.http import AUTHENTICATED, problem, problem_responses
from shared.messaging.broker import make_consumer, partitions_of
from shared.security.roles import Caller, Forbidden
from shared.telemetry import inject_headers

router = APIRouter()

BATCH_MEDIA_TYPE = "application/cloudevents-batch+json"


class StructuredEvent(BaseModel):
    """One CloudEvent in structured JSON form (CloudEvents 1.0, JSON event format)."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=512)
    source: str = Field(min_length=1, max_length=1024)
    type: str = Field(min_length=1, max_length=200)
    subject: str | None = Field(default=None, max_length=512)
    time: AwareDatetime | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]


class Reason(BaseModel):
    field: str | None
    rule: str
    message: str


class Result(BaseModel):
    index: int = Field(description="The event's place in the batch, from 0.")
    id: str | None = Field(description="The event's id, as sent.")
    status: Literal["accepted", "rejected"]
    partition: int | None = None
    offset: int | None = None
    reasons: list[Reason] = []


class IngestAnswer(BaseModel):
    accepted: int
    rejected: int
    results: list[Result]


class Receipt(BaseModel):
    type: str = Field(description="EventAccepted or EventRejected.")
    time: datetime
    receipt: dict[str, Any]


class ReceiptsPage(BaseModel):
    items: list[Receipt]
    next: str = Field(description="The cursor of the next page: pass it as `after`.")


def provinces_of(who: Caller) -> set[str]:
    provinces = set(who.provinces)
    if not provinces:
        raise Forbidden("ingest and receipts are for provincial systems (province-system:<p>)")
    return provinces


class RateLimit:
    """Events per province, over a moving window (`limits`)."""

    def __init__(self, rate: str) -> None:
        self.item = parse(rate)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def take(self, province: str, events: int) -> float | None:
        """None when allowed; else the seconds to wait."""
        if await self.limiter.hit(self.item, province, cost=events):
            return None
        stats = await self.limiter.get_window_stats(self.item, province)
        return max(1.0, stats.reset_time - time.time())


@router.post(
    "/ingest",
    response_model=IngestAnswer,
    tags=["ingest"],
    responses={
        207: {"model": IngestAnswer, "description": "Some events were rejected."},
        **problem_responses(400, 401, 403, 413, 415, 429),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                BATCH_MEDIA_TYPE: {
                    "schema": {
                        "type": "array",
                        "items": StructuredEvent.model_json_schema(),
                        "maxItems": 500,
                    }
                }
            },
        }
    },
)
async def ingest(
    request: Request, who: CallerDep, runtime: RuntimeDep, settings: SettingsDep[Settings]
) -> JSONResponse:
    """A provincial system's batch of CloudEvents (role `province-system:<p>`). 200 when every
    event is accepted and written to `ibm.inbound.<p>`, 207 when some are rejected (each
    rejection names field and rule); receipts follow on `GET /receipts`."""
    provinces = provinces_of(who)
    media = request.headers.get("content-type", "").split(";")[0].strip()
    if media not in (BATCH_MEDIA_TYPE, "application/json"):
        return problem(415, "Unsupported media type", detail=f"send {BATCH_MEDIA_TYPE}")
    declared = int(request.headers.get("content-length") or 0)
    if declared > settings.ingest_max_bytes:
        return problem(413, "Batch too large", detail=f"at most {settings.ingest_max_bytes} bytes")
    body = await request.body()
    if len(body) > settings.ingest_max_bytes:
        return problem(413, "Batch too large", detail=f"at most {settings.ingest_max_bytes} bytes")
    try:
        batch = json.loads(body)
    except ValueError:
        return problem(400, "Not JSON", detail="the batch is a JSON array of CloudEvents")
    if not isinstance(batch, list):
        return problem(400, "Not a batch", detail="the batch is a JSON array of CloudEvents")
    if len(batch) > settings.ingest_max_events:
        return problem(
            413, "Batch too large", detail=f"at most {settings.ingest_max_events} events"
        )
    limiter: RateLimit = request.app.state.rate_limit
    for province in sorted(provinces):
        wait = await limiter.take(province, max(1, len(batch)))
        if wait is not None:
            response = problem(
                429, "Too many events", detail=f"province {province} is over its rate"
            )
            response.headers["Retry-After"] = str(int(wait + 0.999))
            return response
    checked = [_check(i, raw, provinces) for i, raw in enumerate(batch)]
    results = [c for c in checked if isinstance(c, Result)]
    sending = []
    traced = inject_headers()  # the request's trace goes on to the owner's answer
    for i, c in enumerate(checked):
        if isinstance(c, Result):
            continue
        province, envelope = c
        key, headers, value = to_kafka(envelope)
        headers = [*headers, *traced]
        topic = runtime.topics.name(INBOUND_TOPIC.format(province=province))
        sending.append(
            (i, envelope.id, await runtime.producer.send(topic, value, key=key, headers=headers))
        )
    for i, event_id, future in sending:  # all in flight at once; answered once acknowledged
        written = await future
        results.append(
            Result(
                index=i,
                id=event_id,
                status="accepted",
                partition=written.partition,
                offset=written.offset,
            )
        )
    results.sort(key=lambda r: r.index)
    accepted = sum(1 for r in results if r.status == "accepted")
    answer = IngestAnswer(accepted=accepted, rejected=len(results) - accepted, results=results)
    return JSONResponse(
        answer.model_dump(mode="json"), status_code=200 if accepted == len(results) else 207
    )


def _check(index: int, raw: Any, provinces: set[str]) -> tuple[str, Envelope] | Result:
    """The province and the event as its inbound topic will carry it, or why it is rejected."""
    event_id = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else None

    def rejected(*reasons: Reason) -> Result:
        return Result(index=index, id=event_id, status="rejected", reasons=list(reasons))

    try:
        event = StructuredEvent.model_validate(raw)
    except ValidationError as exc:
        return rejected(*_reasons(exc))
    if event.type not in OWNERS:
        return rejected(
            Reason(
                field="type",
                rule="accepted-inbound-type",
                message="not a type provinces submit (see the AsyncAPI document)",
            )
        )
    try:
        data = contract_for(event.type).model_validate(event.data)
    except UnknownEventType:
        return rejected(Reason(field="type", rule="known-type", message="not in the catalog"))
    except ValidationError as exc:
        return rejected(*_reasons(exc, prefix="data."))
    province = getattr(data, "province_code", None)
    if not isinstance(province, str) or province not in provinces:
        return rejected(
            Reason(
                field="data.province_code",
                rule="own-province",
                message="a provincial system submits its own province's facts",
            )
        )
    return province, Envelope(
        id=event.id,
        source=event.source,
        type=event.type,
        time=event.time or datetime.now(UTC),
        subject=event.subject or data.subject(),
        data=data,
    )


def _reasons(exc: ValidationError, prefix: str = "") -> list[Reason]:
    return [
        Reason(
            field=prefix + ".".join(str(p) for p in e["loc"]) if e["loc"] else None,
            rule=str(e["type"]),
            message=str(e["msg"]),
        )
        for e in exc.errors()
    ]


@router.get("/receipts", response_model=ReceiptsPage, responses=AUTHENTICATED, tags=["ingest"])
async def receipts(
    who: CallerDep,
    runtime: RuntimeDep,
    settings: SettingsDep[Settings],
    after: str | None = Query(default=None, description="The `next` of the previous page."),
    limit: int = Query(default=100, ge=1, le=1000),
    province: str | None = Query(default=None, pattern=r"^\d{2}$"),
) -> ReceiptsPage:
    """The province's receipts, oldest first, one page at a time: each `EventAccepted` (with the
    canonical event id, or `duplicate`) or `EventRejected` (field and rule) the services sent
    for its events, by Kafka or by `POST /ingest` alike."""
    provinces = provinces_of(who)
    if province is None and len(provinces) == 1:
        (province,) = provinces
    if province not in provinces:
        raise Forbidden("name one of your provinces as `province`")
    topic = runtime.topics.name(RECEIPTS_TOPIC.format(province=province))
    start = _cursor(after)
    partitions = await partitions_of(settings.kafka_bootstrap_servers, topic, settings.kafka_auth)
    if not partitions:
        return ReceiptsPage(items=[], next=_encode(start))
    consumer = make_consumer(
        settings.kafka_bootstrap_servers,
        group_id=None,
        client_id="gateway-receipts",
        auth=settings.kafka_auth,
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, start.get(tp.partition, 0))
        items: list[tuple[int, Any]] = []
        positions = {tp.partition: start.get(tp.partition, 0) for tp in partitions}
        deadline = asyncio.get_running_loop().time() + 5
        while (
            len(items) < limit
            and any(positions[tp.partition] < ends[tp] for tp in partitions)
            and asyncio.get_running_loop().time() < deadline
        ):
            fetched = await consumer.getmany(timeout_ms=200, max_records=limit - len(items))
            for tp, records in fetched.items():
                for record in records:
                    if len(items) >= limit:
                        break
                    items.append((record.timestamp, record))
                    positions[tp.partition] = record.offset + 1
    finally:
        await consumer.stop()
    items.sort(key=lambda pair: pair[0])
    page = []
    for _, record in items:
        try:
            envelope = from_kafka(record.headers, record.key, record.value)
        except InvalidEvent:
            continue  # not a receipt we wrote; never expected on this topic
        page.append(
            Receipt(
                type=envelope.type.rsplit(".", 2)[-2],
                time=envelope.time,
                receipt=envelope.data.model_dump(mode="json"),
            )
        )
    return ReceiptsPage(items=page, next=_encode(positions))


def _cursor(after: str | None) -> dict[int, int]:
    if not after:
        return {}
    try:
        decoded = json.loads(base64.urlsafe_b64decode(after + "=" * (-len(after) % 4)))
        return {int(p): int(o) for p, o in decoded.items()}
    except (ValueError, TypeError, AttributeError):
        from shared.rules import RuleViolations, Violation

        raise RuleViolations(
            [Violation("after", "cursor", "pass the `next` of a previous page")]
        ) from None


def _encode(positions: dict[int, int]) -> str:
    raw = json.dumps({str(p): o for p, o in sorted(positions.items())}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
