"""The base of every event contract: a documented, versioned, tolerant pydantic model.

A contract class names its CloudEvents type and version and the canonical topic it is
published on. Consumers are tolerant readers: unknown fields are ignored, so a producer may
add optional fields within a version without breaking anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """The data of one event: what travels as the JSON body of a Kafka message."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    event_type: ClassVar[str]
    """CloudEvents `type`, e.g. ``id.go.bnn.ibm.registry.UnitFormed.v1``."""
    event_name: ClassVar[str]
    """Past-tense name, e.g. ``UnitFormed``."""
    version: ClassVar[int]
    topic: ClassVar[str]
    """Canonical topic (or topic template for platform events)."""
    subject_field: ClassVar[str]
    """The field holding the aggregate id: it becomes the Kafka key and `ce_subject`."""

    def subject(self) -> str:
        return str(getattr(self, self.subject_field))


TYPE_PREFIX = "id.go.bnn.ibm"


def event_type_name(context: str, name: str, version: int) -> str:
    return f"{TYPE_PREFIX}.{context}.{name}.v{version}"


E = TypeVar("E", bound="EventData")


def contract(
    *, context: str, name: str, version: int, topic: str, subject: str
) -> Callable[[type[E]], type[E]]:
    """Class decorator filling the ClassVars and registering the class in the catalog."""
    from shared.contracts.catalog import register

    def decorate(cls: type[E]) -> type[E]:
        cls.event_name = name
        cls.version = version
        cls.event_type = event_type_name(context, name, version)
        cls.topic = topic
        cls.subject_field = subject
        if subject not in cls.model_fields:
            raise TypeError(f"{cls.__name__}: subject field {subject!r} is not a field")
        register(cls)
        return cls

    return decorate


def example_of(cls: type[E], **overrides: Any) -> E:
    """An instance of ``cls`` whose every field takes its first declared example: the example
    message the catalog documents (a field without an example is a documentation bug)."""
    data: dict[str, Any] = {}
    for name, info in cls.model_fields.items():
        if not info.examples:
            raise AssertionError(f"{cls.__name__}.{name} declares no example")
        data[name] = info.examples[0]
    data.update(overrides)
    return cls.model_validate(data)
