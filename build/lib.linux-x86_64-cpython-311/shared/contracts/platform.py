"""Platform contracts: the receipts that answer a provincial system for every inbound event.

The service that owns an inbound fact validates it, records it, and answers on the
province's receipts topic ``ibm.receipts.<province>``: ``EventAccepted`` with the id of the
canonical event it became, or ``EventRejected`` with the reasons. Nothing is dropped
silently. Receipts are keyed by the original event id so a province can match answers to
what it sent.
"""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.contracts.base import EventData, contract
from shared.contracts.types import (
    ContractPart,
    EntityId,
    EventTypeName,
    FieldPath,
    MessageId,
    ProvinceCode,
    RuleCode,
)

CONTEXT = "platform"
INBOUND_TOPIC = "ibm.inbound.{province}"
"""Topic template of provincial submissions: format with the 2-digit province code."""

RECEIPTS_TOPIC = "ibm.receipts.{province}"
"""Topic template: format with the 2-digit province code, e.g. ``ibm.receipts.74``."""


def receipts_topic(province_code: str) -> str:
    """The receipts topic of one province."""
    return RECEIPTS_TOPIC.format(province=province_code)


class RejectionReason(ContractPart):
    """One rule an inbound event broke. The message names the field and the rule; it must
    not repeat the submitted value, which may be identifying."""

    field: FieldPath | None = Field(
        description="Dotted path of the offending field (list items by index), or null when "
        "the rule concerns the whole event.",
        examples=["substances.alcohol.frequency"],
    )
    rule: RuleCode = Field(
        description="Machine-readable name of the broken rule.",
        examples=["enum"],
    )
    message: str = Field(
        min_length=1,
        max_length=2000,
        description="Human-readable explanation for the provincial developer.",
        examples=["Input should be less than or equal to 39"],
    )


@contract(
    context=CONTEXT,
    name="EventAccepted",
    version=1,
    topic=RECEIPTS_TOPIC,
    subject="original_event_id",
)
class EventAccepted(EventData):
    """An inbound provincial event was valid and recorded as a canonical event. Produced by
    the owning service after the canonical event is committed to its outbox."""

    original_event_id: MessageId = Field(
        description="CloudEvents id of the event as the province sent it.",
        examples=["sultra-simrehab-2025-000184"],
    )
    original_type: EventTypeName = Field(
        description="CloudEvents type of the event as the province sent it.",
        examples=["id.go.bnn.ibm.client-case.ScreeningSubmitted.v1"],
    )
    province_code: ProvinceCode = Field(
        description="Province that sent the event (names its receipts topic).",
        examples=["74"],
    )
    canonical_event_id: EntityId = Field(
        description="Id of the canonical event the inbound event became.",
        examples=["01JDC3D5E7F9G1H3J5K7M9N1P3"],
    )
    accepted_at: AwareDatetime = Field(
        description="When the owning service recorded the event, with its UTC offset.",
        examples=["2025-05-20T10:16:02+00:00"],
    )
    duplicate: bool = Field(
        default=False,
        description="True when the same original event was accepted before: nothing new was "
        "recorded and canonical_event_id is the one from the first acceptance.",
        examples=[False],
    )
    submission_id: EntityId | None = Field(
        default=None,
        description="The province's own id of the fact (its `submission_id`), when it has one.",
        examples=["sultra-screening-0000184"],
    )
    created: dict[str, EntityId] = Field(
        default_factory=dict,
        description="The ids the fact created or names, for the province's next facts: "
        "`case_id` (every fact of a case), `referral_id` (a referral and its resolutions), "
        "`unit_id`, `agent_id`, `training_id`, `funding_id`, `session_id` (attendance and "
        "misses), `activity_id`. The platform's own ids are UUIDs. Empty on a duplicate's "
        "receipt.",
        examples=[{"case_id": "01JDC3D5E7F9G1H3J5K7M9N1P3"}],
    )


@contract(
    context=CONTEXT,
    name="EventRejected",
    version=1,
    topic=RECEIPTS_TOPIC,
    subject="original_event_id",
)
class EventRejected(EventData):
    """An inbound provincial event was not recorded because it broke one or more rules
    (schema, references, or a region outside the sending province). Produced by the owning
    service, or by the platform when no contract matches its type."""

    original_event_id: MessageId = Field(
        description="CloudEvents id of the event as the province sent it.",
        examples=["sultra-simrehab-2025-000185"],
    )
    original_type: EventTypeName = Field(
        description="CloudEvents type of the event as the province sent it.",
        examples=["id.go.bnn.ibm.client-case.ScreeningSubmitted.v1"],
    )
    province_code: ProvinceCode = Field(
        description="Province that sent the event (names its receipts topic).",
        examples=["74"],
    )
    reasons: list[RejectionReason] = Field(
        min_length=1,
        description="Every rule the event broke; at least one.",
        examples=[
            [
                {
                    "field": "substances.alcohol.frequency",
                    "rule": "enum",
                    "message": "Input should be 'never', 'once_or_twice', 'monthly', 'weekly' "
                    "or 'daily'",
                },
                {
                    "field": "province_code",
                    "rule": "own-province",
                    "message": "the inbound topic of province 74 speaks only for it",
                },
            ]
        ],
    )
    rejected_at: AwareDatetime = Field(
        description="When the event was rejected, with its UTC offset.",
        examples=["2025-05-20T10:16:02+00:00"],
    )
