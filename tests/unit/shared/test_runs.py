"""A consumer's batch in runs (`runs_of`): cut where the type changes, and a registry's bulk
(a province's villages, each a unit, its team and their trainings) as one run of each type."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from shared.contracts import registry
from shared.contracts.base import EventData, example_of
from shared.contracts.envelope import Envelope, wrap
from shared.contracts.types import UnitScopedEvent
from shared.messaging.consumer import runs_of

UNIT, AGENT, TRAINED = (
    registry.UnitFormed,
    registry.RecoveryAgentAppointed,
    registry.RecoveryAgentTrained,
)
STATUS = registry.UnitStatusChanged


def event(kind: type[EventData], unit: str) -> Envelope:
    return wrap(example_of(kind).model_copy(update={"unit_id": unit}), source="test")


def shape(runs: Sequence[Sequence[Envelope]]) -> list[list[tuple[str, str]]]:
    return [
        [(type(e.data).__name__, cast(UnitScopedEvent, e.data).unit_id) for e in run]
        for run in runs
    ]


def test_a_batch_is_cut_where_the_type_changes() -> None:
    batch = [event(UNIT, "u1"), event(UNIT, "u2"), event(AGENT, "u1"), event(UNIT, "u3")]
    assert shape(runs_of(batch)) == [
        [("UnitFormed", "u1"), ("UnitFormed", "u2")],
        [("RecoveryAgentAppointed", "u1")],
        [("UnitFormed", "u3")],
    ]


def test_a_registrys_villages_are_one_run_of_each_bulk_type_in_order() -> None:
    batch = [
        e
        for unit in ("u1", "u2", "u3")
        for e in (event(UNIT, unit), event(AGENT, unit), event(AGENT, unit), event(TRAINED, unit))
    ]
    batch += [event(STATUS, "u1"), event(UNIT, "u4"), event(AGENT, "u4")]
    runs = runs_of(batch, registry.IN_BULK)
    assert shape(runs) == [
        [("UnitFormed", u) for u in ("u1", "u2", "u3")],
        [("RecoveryAgentAppointed", u) for u in ("u1", "u1", "u2", "u2", "u3", "u3")],
        [("RecoveryAgentTrained", u) for u in ("u1", "u2", "u3")],
        # a fact outside the bulk ends the stretch: what came before it is applied before it
        [("UnitStatusChanged", "u1")],
        [("UnitFormed", "u4")],
        [("RecoveryAgentAppointed", "u4")],
    ]
    # every event once, and each type in the order it came
    assert sorted(e.id for run in runs for e in run) == sorted(e.id for e in batch)
    for run in runs:
        ids = {e.id for e in run}
        assert [e.id for e in run] == [e.id for e in batch if e.id in ids]


def test_a_stretch_is_applied_in_the_order_of_the_bulk_types_not_as_it_came() -> None:
    funded = registry.UnitFundingRecorded
    batch = [event(AGENT, "u1"), event(TRAINED, "u1"), event(UNIT, "u1"), event(funded, "u1")]
    batch += [event(STATUS, "u1"), event(UNIT, "u2"), event(STATUS, "u1")]
    assert shape(runs_of(batch, registry.IN_BULK)) == [
        [("UnitFormed", "u1")],  # a unit before its agents, whatever came first
        [("RecoveryAgentAppointed", "u1")],
        [("RecoveryAgentTrained", "u1")],
        [("UnitFundingRecorded", "u1")],
        [("UnitStatusChanged", "u1")],
        [("UnitFormed", "u2")],
        [("UnitStatusChanged", "u1")],
    ]
