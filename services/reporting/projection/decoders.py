"""The projection's fast path: a msgspec decoder built once per event type from the same
contract annotations as its pydantic reader, checking the same rules in C (types, enums,
lengths, bounds, dates), and its regular-expression patterns checked after decoding, each
value once for as long as it keeps recurring (units, provinces and villages recur in almost
every event; Python's `re` on every value cost more than the rest of the decoding).

Whatever the fast path refuses goes to the pydantic reader, which either names the field and
the rule (the dead letter's reason) or accepts it in one of the lax forms pydantic allows (a
number as a string): the fast path only ever refuses more, never accepts what pydantic
refuses, unread fields included (`_plain`). `tests/unit/reporting/test_decoders.py` holds it
to that."""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Annotated, Any, NotRequired, Union, get_args, get_origin

import annotated_types
import msgspec
from pydantic import AwareDatetime, BaseModel, StringConstraints
from typing_extensions import TypedDict

from shared.contracts.base import EventData

_MEMORY = 4096
"""Values a field remembers as matching its pattern before it forgets them all: units and
villages recur from batch to batch, a session's id never does."""


@dataclass(frozen=True)
class Pattern:
    """A top-level field's pattern, checked after decoding, and the values of the field that
    matched it (`seen`)."""

    field: str
    search: Callable[[str], object]
    seen: set[str]


@dataclass(frozen=True)
class FastReader:
    """One event type's fast path: its decoder and the checks left to make after it."""

    decoder: msgspec.json.Decoder[dict[str, Any]]
    patterns: tuple[Pattern, ...]
    instants: tuple[str, ...]
    """Fields holding an instant, decoded as RFC 3339 text and read by `fromisoformat`:
    msgspec rounds a seventh digit of a second where pydantic drops it, which could move a
    screening across midnight."""
    fields: tuple[str, ...]
    """The fields it reads (as the pydantic reader does)."""

    def read(self, body: bytes) -> dict[str, Any] | None:
        """The fields, or None where the fast path refuses (the pydantic reader decides)."""
        if not _plain(body):
            return None
        try:
            fields = self.decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        for pattern in self.patterns:
            value = fields.get(pattern.field)
            if value is None or value in pattern.seen:
                continue
            if pattern.search(value) is None:
                return None
            if len(pattern.seen) >= _MEMORY:
                pattern.seen.clear()
            pattern.seen.add(value)
        for name in self.instants:
            value = fields.get(name)
            if value is not None:
                try:
                    fields[name] = datetime.fromisoformat(value)
                except ValueError:  # a 25th hour, a 13th month
                    return None
        return fields


def _plain(body: bytes) -> bool:
    """A body msgspec reads as pydantic would, unread fields included: msgspec skips what no
    rule reads without checking its UTF-8 or the length of its numbers, and recurses where
    pydantic refuses more than 200 levels of nesting. Events are a few hundred bytes of
    ASCII with a handful of brackets; anything else goes to pydantic."""
    return (
        len(body) <= _LONGEST
        and body.count(b"{") + body.count(b"[") <= _BRACKETS
        and (body.isascii() or _utf8(body))
    )


def _utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


_LONGEST = 4096
"""Bytes of a body on the fast path (an integer of more than 4,300 digits, which pydantic
refuses, needs more)."""
_BRACKETS = 64
"""Brackets of a body on the fast path (nesting needs two a level)."""
_INSTANT = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
"""The RFC 3339 instants the fast path reads (the relay's form); others go to pydantic."""


def fast_reader(contract: type[EventData], fields: Iterable[str]) -> FastReader:
    """The fast path for these fields of the contract (its pydantic reader's fields)."""
    annotations: dict[str, Any] = {}
    patterns = []
    instants = []
    fields = tuple(fields)
    for name in fields:
        info = contract.model_fields[name]
        kind, pattern = _translated(info.annotation, info.metadata, top=True)
        if pattern is _INSTANT_MARK:
            instants.append(name)
        elif pattern is not None:
            patterns.append(Pattern(name, pattern.search, set()))
        annotations[name] = kind if info.is_required() else NotRequired[kind]
    shape: Any = TypedDict  # built from the contract at import, not spelled out
    decoder = msgspec.json.Decoder(shape(f"{contract.__name__}Fast", annotations))
    return FastReader(decoder, tuple(patterns), tuple(instants), fields)


_INSTANT_MARK = re.compile(_INSTANT)
"""What `_translated` gives for an instant: read after decoding, not searched."""


def _translated(
    kind: Any, metadata: Sequence[Any], *, top: bool = False
) -> tuple[Any, re.Pattern[str] | None]:
    """The msgspec type checking what pydantic checks of `kind` with `metadata`, and (at the
    top level) the pattern left to check after decoding, or `_INSTANT_MARK` for an instant
    read after decoding. A rule msgspec cannot check raises
    `TypeError` at import: better no fast path than one that lets through what pydantic
    would refuse."""
    origin = get_origin(kind)
    if origin is Annotated:
        inner, *more = get_args(kind)
        return _translated(inner, [*more, *metadata], top=top)
    if origin in (Union, types.UnionType):
        members = [a for a in get_args(kind) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{kind}: only an optional value has a fast path")
        inner, pattern = _translated(members[0], metadata, top=top)
        return inner | None, pattern
    meta, pattern = _constraints(metadata)
    if pattern is not None and not top:
        meta["pattern"], pattern = pattern.pattern, None
    if origin is list:
        (item,) = get_args(kind)
        base: Any = types.GenericAlias(list, (_translated(item, ())[0],))
    elif kind is AwareDatetime and top:
        return Annotated[str, msgspec.Meta(pattern=_INSTANT)], _INSTANT_MARK
    elif isinstance(kind, type) and issubclass(kind, BaseModel):
        base = _part(kind)
    elif kind in (str, int, bool, date) or (isinstance(kind, type) and issubclass(kind, Enum)):
        base = kind  # enums by their values, dates as ISO days: as pydantic reads them
    else:
        raise TypeError(f"{kind}: no fast path")
    return (Annotated[base, msgspec.Meta(**meta)] if meta else base), pattern


def _constraints(metadata: Sequence[Any]) -> tuple[dict[str, Any], re.Pattern[str] | None]:
    meta: dict[str, Any] = {}
    pattern = None
    for item in metadata:
        if isinstance(item, StringConstraints):
            extra = {
                "strip_whitespace": item.strip_whitespace,
                "to_upper": item.to_upper,
                "to_lower": item.to_lower,
                "strict": item.strict,
                "ascii_only": item.ascii_only,
            }
            if any(v is not None for v in extra.values()):
                raise TypeError(f"{item}: no fast path")
            if item.min_length is not None:
                meta["min_length"] = item.min_length
            if item.max_length is not None:
                meta["max_length"] = item.max_length
            if isinstance(item.pattern, re.Pattern):
                raise TypeError(f"{item.pattern!r}: a compiled pattern has no fast path")
            if item.pattern is not None:
                pattern = _compiled(item.pattern)
        elif type(item) in _BOUNDS:
            name = _BOUNDS[type(item)]
            meta[name] = getattr(item, name)
        else:
            raise TypeError(f"{item!r}: no fast path")
    return meta, pattern


_BOUNDS = {
    annotated_types.Ge: "ge",
    annotated_types.Le: "le",
    annotated_types.Gt: "gt",
    annotated_types.Lt: "lt",
    annotated_types.MinLen: "min_length",
    annotated_types.MaxLen: "max_length",
}
"""annotated-types' bounds by the name they share with `msgspec.Meta`'s."""


def _compiled(pattern: str) -> re.Pattern[str]:
    """pydantic's patterns are Rust regular expressions, searched. Python's `re` reads ours
    the same but for `$`, which in Python also matches before a final newline (`\\Z` does
    not), and `\\d`, which matches fewer digits in Python 3.11 (so refuses more)."""
    if "$" in pattern.removesuffix("$") or pattern.endswith("\\$"):
        raise TypeError(f"{pattern!r}: a `$` before the end, or escaped, has no fast path")
    return re.compile(pattern.removesuffix("$") + r"\Z" if pattern.endswith("$") else pattern)


def _part(model: type[BaseModel]) -> type[msgspec.Struct]:
    """A nested part as a struct (read by attribute, as the pydantic model is)."""
    decorators = model.__pydantic_decorators__
    if decorators.field_validators or decorators.model_validators or decorators.validators:
        raise TypeError(f"{model.__name__}: a validator has no fast path")
    fields: list[Any] = []
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            raise TypeError(f"{model.__name__}.{name}: a default factory has no fast path")
        kind = _translated(info.annotation, info.metadata)[0]
        fields.append((name, kind) if info.is_required() else (name, kind, info.default))
    return msgspec.defstruct(f"{model.__name__}Fast", fields)
