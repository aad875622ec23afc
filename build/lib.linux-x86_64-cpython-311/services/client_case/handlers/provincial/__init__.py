"""What provinces submit — screenings and every later fact of the case a screening opened —
set-based. A partition's batch:

1. `Batch.load` (`state`): the sealed identities opened, then one query per kind of reference
   (earlier submissions and referral keys, units, clients by pseudonym, cases, their clients,
   agents);
2. each submission in order against that state, through the same rules as an agent's entry
   (`screening`, `course`); a screening registers its client at most once, so the same person
   twice in a batch is one client, and an enrolment may follow its screening in the same batch;
3. `Batch.write`: one statement per table, every canonical event in one outbox insert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.client_case.handlers.common import Keys
from services.client_case.handlers.provincial import course
from services.client_case.handlers.provincial.screening import screen
from services.client_case.handlers.provincial.state import (
    Batch,
    Done,
    Fact,
    SealedWrongly,
    Submitted,
)
from shared.contracts.client_case_inbound import (
    ClosureSubmitted,
    EnrolmentSubmitted,
    ReferralResolutionSubmitted,
    ReferralSubmitted,
    RelapseSubmitted,
    ScreeningSubmitted,
    StageChangeSubmitted,
    TransferSubmitted,
)
from shared.messaging.outbox import Outbox
from shared.rules import RuleViolations

__all__ = ["Done", "Fact", "SealedWrongly", "Submitted", "handle"]

HANDLERS: dict[type[Fact], Callable[[Batch, int, Submitted], dict[str, str]]] = {
    # each returns the ids its receipt names: the case, and a referral it made or resolved
    ScreeningSubmitted: screen,
    EnrolmentSubmitted: course.enrol,
    StageChangeSubmitted: course.change_stage,
    ReferralSubmitted: course.refer,
    ReferralResolutionSubmitted: course.resolve_referral,
    RelapseSubmitted: course.report_relapse,
    TransferSubmitted: course.transfer,
    ClosureSubmitted: course.close,
}


async def handle(
    db: AsyncSession, outbox: Outbox, batch: Sequence[Submitted], keys: Keys, private_key: str
) -> list[Done]:
    """Apply a batch in order; a refused fact changes nothing and the rest go on."""
    state = await Batch.load(db, batch, keys, private_key)
    done: list[Done] = []
    for index, submitted in enumerate(batch):
        try:  # every rule is checked before a use case touches the batch's state
            done.append(Done(created=HANDLERS[type(submitted.fact)](state, index, submitted)))
        except (RuleViolations, SealedWrongly) as exc:
            done.append(Done(error=exc))
    await state.write(db, outbox, done)
    return done
