"""The catalog: every event contract the platform knows, found by its CloudEvents type."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.contracts.base import EventData

_BY_TYPE: dict[str, type[EventData]] = {}


class UnknownEventType(LookupError):
    """A message carries a `ce_type` that no contract in the catalog declares."""


def register(cls: type[EventData]) -> None:
    existing = _BY_TYPE.get(cls.event_type)
    if existing is not None and existing is not cls:
        raise ValueError(f"event type {cls.event_type} declared twice")
    _BY_TYPE[cls.event_type] = cls


def _load() -> None:
    # Importing the context modules runs their @contract decorators.
    from shared.contracts import (  # noqa: F401
        client_case,
        client_case_inbound,
        platform,
        registry,
        scheduling,
        scheduling_inbound,
    )


def contract_for(event_type: str) -> type[EventData]:
    found = _BY_TYPE.get(event_type)
    if found is not None:
        return found
    _load()
    try:
        return _BY_TYPE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def all_contracts() -> list[type[EventData]]:
    _load()
    return sorted(_BY_TYPE.values(), key=lambda c: (c.topic, c.event_name, c.version))
