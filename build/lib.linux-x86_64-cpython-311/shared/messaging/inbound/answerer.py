"""The answering consumer: one service's types on the provinces' inbound topics, a
partition's batch in one transaction, one receipt per message."""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import Table, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.contracts.base import EventData
from shared.contracts.envelope import (
    REQUIRED_HEADERS,
    InvalidEvent,
    Reason,
    from_kafka_lean,
    header,
)
from shared.contracts.inbound import ACCEPTED, ANSWERS_THE_REST, OWNERS, accepted_types
from shared.contracts.platform import EventAccepted, EventRejected, receipts_topic
from shared.messaging.failures import (
    constraint_reason,
    is_constraint,
    is_infrastructure,
    where_it_failed,
)
from shared.messaging.inbound.answers import (
    INTERNAL_ERROR,
    Accepted,
    Answer,
    ApplyBatch,
    Refused,
    Submission,
    rule_reasons,
)
from shared.messaging.inbound.origin import Record, province_of_record
from shared.messaging.outbox import Outbox
from shared.messaging.tables import PlatformTables
from shared.metrics import EVENTS_CONSUMED, HANDLER_FAILURES, RECEIPTS
from shared.persistence import insert_ignoring_duplicates
from shared.telemetry import batch_span

log = logging.getLogger(__name__)

DeadLetter = Callable[[Record, str], Awaitable[None]]


class InboundAnswerer:
    """Answers the messages of one service's types on the provinces' inbound topics."""

    def __init__(
        self,
        *,
        service: str,
        apply: ApplyBatch,
        sessions: async_sessionmaker[AsyncSession],
        tables: PlatformTables,
        outbox: Outbox,
        dialect: str,
        dead_letter: DeadLetter,
        on_commit: Callable[[], None] = lambda: None,
        explain: Callable[[Exception], list[Reason] | None] = rule_reasons,
    ) -> None:
        assert tables.accepted is not None, f"{service} keeps no table of accepted ids"
        self.service = service
        self.accepts = {cls.event_type: cls for cls in ACCEPTED.get(service, ())}
        self.answers_the_rest = service == ANSWERS_THE_REST
        self.apply = apply
        self.sessions = sessions
        self.inbox = tables.inbox
        self.accepted: Table = tables.accepted
        self.outbox = outbox
        self.dialect = dialect
        self.dead_letter = dead_letter
        self.on_commit = on_commit
        self.explain = explain

    def owns(self, record: Record) -> bool:
        """Decided from the `ce_type` header alone."""
        event_type = header(record.headers or (), "ce_type")
        if event_type in self.accepts:
            return True
        return self.answers_the_rest and (event_type or "") not in OWNERS

    async def process(self, records: Sequence[Record]) -> Counter[str]:
        """Answer one partition's batch (one province) in one transaction."""
        ours = [r for r in records if self.owns(r)]
        outcomes: Counter[str] = Counter()
        if not ours:
            return outcomes
        failed: list[tuple[Record, str]] = []
        with batch_span(ours, self.service):
            async with self.sessions.begin() as db:
                fresh = await self._claim(db, ours)
                outcomes["redelivered"] = len(ours) - len(fresh)
                answers: list[Answer | None] = [None] * len(fresh)
                submissions: list[tuple[int, Submission]] = []
                for i, record in enumerate(fresh):
                    try:
                        submissions.append((i, self._decode(record)))
                    except InvalidEvent as exc:
                        answers[i] = Refused(exc.reasons)
                for i, answer in await self._answer(db, submissions):
                    answers[i] = answer
                    if isinstance(answer, Refused) and answer.bug:
                        failed.append((fresh[i], answer.bug))
                done = [(r, a) for r, a in zip(fresh, answers, strict=True) if a is not None]
                await self._write_answers(db, done)
        self.on_commit()
        for record, why in failed:
            await self.dead_letter(record, why)
        for record, answer in done:
            outcome = (
                ("duplicate" if answer.duplicate else "accepted")
                if isinstance(answer, Accepted)
                else ("dead_lettered" if answer.bug else "rejected")
            )
            outcomes[outcome] += 1
            EVENTS_CONSUMED.labels(self.service, record.topic, outcome).inc()
            receipt = "internal_error" if outcome == "dead_lettered" else outcome
            RECEIPTS.labels(self.service, province_of_record(record), receipt).inc()
        return outcomes

    def _decode(self, record: Record) -> Submission:
        province = province_of_record(record)
        headers = list(record.headers or ())
        event_type = header(headers, "ce_type")
        if event_type not in self.accepts:
            missing = [
                Reason(name, "required", f"header {name} is missing")
                for name in REQUIRED_HEADERS
                if header(headers, name) is None
            ]
            raise InvalidEvent(
                missing
                or [
                    Reason(
                        "ce_type",
                        "accepted-inbound-type",
                        f"{(event_type or '')[:200]!r} is not accepted on inbound topics; "
                        f"accepted: {', '.join(accepted_types())}",
                    )
                ]
            )
        envelope = from_kafka_lean(headers, record.key, record.value)
        data = envelope.data
        if getattr(data, "province_code", province) != province:
            raise InvalidEvent(
                [
                    Reason(
                        "province_code",
                        "own-province",
                        f"the inbound topic of province {province} speaks only for it",
                    )
                ]
            )
        return Submission(province, envelope.id, envelope.type, data)

    async def _answer(
        self, db: AsyncSession, submissions: list[tuple[int, Submission]]
    ) -> list[tuple[int, Answer]]:
        """Duplicates of accepted ids answered from the table; the rest applied in rounds
        where each id appears once (an id repeated within the batch waits for its first)."""
        answered: list[tuple[int, Answer]] = []
        pending = submissions
        while pending:
            before = await self._accepted_before(db, [s for _, s in pending])
            batch: list[tuple[int, Submission]] = []
            later: list[tuple[int, Submission]] = []
            seen: set[tuple[str, str]] = set()
            for i, s in pending:
                key = (s.province, s.event_id)
                if key in before:
                    duplicate = Accepted(before[key], duplicate=True)
                    answered.append((i, _with_submission_id(duplicate, s)))
                elif key in seen:
                    later.append((i, s))
                else:
                    seen.add(key)
                    batch.append((i, s))
            if batch:
                applied = await self._apply_isolating(db, [s for _, s in batch])
                answered += [
                    (i, _with_submission_id(a, s)) for (i, s), a in zip(batch, applied, strict=True)
                ]
                await self._remember_accepted(db, batch, applied)
            pending = later
        return answered

    async def _apply_isolating(self, db: AsyncSession, subs: list[Submission]) -> list[Answer]:
        """The batch in one savepoint; when it fails, one submission at a time to find which."""
        try:
            async with db.begin_nested():
                answers = await self.apply(db, self.outbox, subs)
            if len(answers) != len(subs):
                raise RuntimeError(f"{len(answers)} answers for {len(subs)} submissions")
            return answers
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            if len(subs) == 1:
                return [self._refusal(subs[0], exc)]
            HANDLER_FAILURES.labels(self.service, "inbound").inc()
            log.warning(
                "a batch of %d inbound facts failed (%s); isolating",
                len(subs),
                where_it_failed(exc),
            )
        isolated: list[Answer] = []
        for sub in subs:
            try:
                async with db.begin_nested():
                    isolated += await self.apply(db, self.outbox, [sub])
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                isolated.append(self._refusal(sub, exc))
        return isolated

    def _refusal(self, sub: Submission, exc: Exception) -> Refused:
        reasons = self.explain(exc) or rule_reasons(exc)
        if reasons:
            return Refused(reasons)
        if isinstance(exc, DBAPIError) and is_constraint(exc):
            return Refused([constraint_reason(exc)])
        where = where_it_failed(exc)
        log.error("inbound %s %s failed: %s (our bug)", sub.event_type, sub.event_id[:80], where)
        return Refused([INTERNAL_ERROR], bug=f"internal-error: {where}")

    async def _claim(self, db: AsyncSession, records: list[Record]) -> list[Record]:
        """Claim the records' coordinates; returns those not answered before, in order."""
        now = datetime.now(UTC)
        rows = [
            {
                "event_id": _coordinates(r),
                "event_type": "inbound",
                "topic": r.topic[-255:],
                "partition": r.partition,
                "offset": r.offset,
                "processed_at": now,
            }
            for r in records
        ]
        statement = insert_ignoring_duplicates(self.inbox, self.dialect).returning(
            self.inbox.c.event_id
        )
        claimed = set((await db.execute(statement, rows)).scalars())
        return [r for r in records if _coordinates(r) in claimed]

    async def _accepted_before(
        self, db: AsyncSession, subs: list[Submission]
    ) -> dict[tuple[str, str], str]:
        if not subs:
            return {}
        t = self.accepted
        by_province: dict[str, set[str]] = {}
        for s in subs:
            by_province.setdefault(s.province, set()).add(s.event_id)
        found: dict[tuple[str, str], str] = {}
        for province, ids in by_province.items():  # one province but for redrives
            rows = await db.execute(
                select(t.c.original_event_id, t.c.canonical_event_id).where(
                    t.c.province_code == province, t.c.original_event_id.in_(ids)
                )
            )
            found.update({(province, original): canonical for original, canonical in rows})
        return found

    async def _remember_accepted(
        self, db: AsyncSession, batch: list[tuple[int, Submission]], answers: list[Answer]
    ) -> None:
        now = datetime.now(UTC)
        rows = [
            {
                "province_code": s.province,
                "original_event_id": s.event_id,
                "canonical_event_id": a.canonical_event_id,
                "accepted_at": now,
            }
            for (_, s), a in zip(batch, answers, strict=True)
            if isinstance(a, Accepted)
        ]
        if rows:
            await db.execute(self.accepted.insert(), rows)

    async def _write_answers(self, db: AsyncSession, done: list[tuple[Record, Answer]]) -> None:
        """Every receipt of the batch with one statement per province (one, but for redrives)."""
        now = datetime.now(UTC)
        receipts: dict[str, list[EventData]] = {}
        for record, answer in done:
            province = province_of_record(record)
            headers = list(record.headers or ())
            original_id = (header(headers, "ce_id") or _coordinates(record))[:512]
            original_type = (header(headers, "ce_type") or "unknown")[:512] or "unknown"
            if isinstance(answer, Accepted):
                receipts.setdefault(province, []).append(
                    EventAccepted(
                        original_event_id=original_id,
                        original_type=original_type,
                        province_code=province,
                        canonical_event_id=answer.canonical_event_id,
                        accepted_at=now,
                        duplicate=answer.duplicate,
                        submission_id=answer.submission_id,
                        created=dict(answer.created),
                    )
                )
            else:
                receipts.setdefault(province, []).append(
                    EventRejected(
                        original_event_id=original_id,
                        original_type=original_type,
                        province_code=province,
                        # a refusal a use case left unexplained is still answered
                        reasons=[_receipt_reason(r) for r in answer.reasons or [INTERNAL_ERROR]],
                        rejected_at=now,
                    )
                )
        for province, items in receipts.items():
            await self.outbox.add_all(db, items, topic=receipts_topic(province))


def _receipt_reason(reason: Reason) -> dict[str, str | None]:
    """A reason in the receipt's shape, whatever a validator produced: a path with spaces or a
    long rule would make the receipt itself invalid, and a batch that cannot be answered
    would stall its partition."""
    field = re.sub(r"\s+", "_", reason.field)[:300] if reason.field else None
    rule = re.sub(r"[^A-Za-z0-9_.:-]", "-", reason.rule)[:100].lstrip("_.:-") or "rule"
    return {"field": field or None, "rule": rule, "message": reason.message[:2000] or rule}


def _coordinates(record: Record) -> str:
    return f"{record.topic}:{record.partition}:{record.offset}"[-64:]


def _with_submission_id(answer: Answer, submitted: Submission) -> Answer:
    """An acceptance carries the province's own id of the fact, when the fact has one."""
    own = getattr(submitted.data, "submission_id", None)
    if isinstance(answer, Accepted) and isinstance(own, str):
        return replace(answer, submission_id=own)
    return answer
