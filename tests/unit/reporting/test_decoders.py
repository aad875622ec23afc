"""The projection's fast path (msgspec, `projection.decoders`) against the pydantic reader it
stands in for: it never accepts a body pydantic refuses, what it accepts reads the same, and
what it refuses pydantic decides (naming the field and the rule, or accepting a lax form)."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, StringConstraints, ValidationError

from services.reporting.projection.decoders import fast_reader
from services.reporting.projection.reading import _READINGS, Reading, reading_of
from services.reporting.upserts import keys_of
from shared.contracts.base import EventData, example_of
from shared.contracts.catalog import all_contracts
from shared.contracts.platform import EventRejected
from shared.contracts.types import AgeBand

reading_of(EventRejected.event_type)  # every type of the catalog registered
READ = sorted(
    (r for r in _READINGS.values() if r.rule is not None or r.contract is EventRejected),
    key=lambda r: r.contract.__name__,
)
MISSING = object()

TRICKY: list[Any] = [
    None,
    True,
    0,
    -1,
    39,
    40,
    100001,
    3.0,
    3.5,
    "",
    "74",
    "74\n",
    "\u0667\u0664",  # Arabic-Indic digits: `\d` in both engines
    "74.71.01.1001",
    "74.71.01.1001\n",
    "74.71.01.10011",
    "unit-000000000001-bench",
    "unit-000000000001-bench\n",
    "unit 000000000001 bench",
    "short-id",
    "a" * 64,
    "a" * 65,
    "moderate",
    "Moderate",
    "moderate ",
    "active",
    "services",
    "completed",
    "2026-03-01",
    "2026-3-1",
    "20260301",
    "2026-02-30",
    "2026-03-01T10:00:00+08:00",
    "2026-03-01T10:00:00Z",
    "2026-03-01T10:00:00",
    "2026-03-01 10:00:00+08:00",
    "1",
    "true",
    [],
    [{"substance": "alcohol", "score": 3, "level": "low"}],
    [{"substance": "alcohol", "score": "3", "level": "low"}],
    [{"substance": "alcohol", "score": 40, "level": "low"}],
    [{"substance": "alcohol", "level": "low"}],
    [{"substance": "alcohol", "score": 3, "level": "low"}] * 11,
    {"a": 1},
]


def _example(reading: Reading) -> dict[str, Any]:
    data: dict[str, Any] = example_of(reading.contract).model_dump(mode="json")
    return data


def _plain(value: Any) -> Any:
    """Values as plain data: nested parts are pydantic models on one path, structs on the
    other, read the same way (by attribute)."""
    if isinstance(value, BaseModel):
        return _plain(value.model_dump())
    if isinstance(value, msgspec.Struct):
        return _plain(msgspec.structs.asdict(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _pydantic(reading: Reading, body: bytes) -> Any:
    """What pydantic reads, as plain data, or None where it refuses."""
    try:
        return _plain(reading.reader.validate_json(body))
    except ValidationError:
        return None


def _body(reading: Reading, changes: dict[str, Any]) -> bytes:
    data = _example(reading)
    for name, value in changes.items():
        if value is MISSING:
            data.pop(name, None)
        else:
            data[name] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize("reading", READ, ids=lambda r: r.contract.__name__)
def test_the_contracts_example_reads_the_same_on_both_paths(reading: Reading) -> None:
    body = _body(reading, {})
    fast = reading.fast.read(body)
    assert fast is not None, "the fast path refused the catalog's own example"
    assert _plain(fast) == _pydantic(reading, body)


def _agrees(reading: Reading, body: bytes) -> None:
    fast = reading.fast.read(body)
    accepted = _pydantic(reading, body)
    if fast is not None:
        assert accepted is not None, f"fast path accepted what pydantic refuses: {body!r}"
        assert _plain(fast) == accepted
    if accepted is None:
        with pytest.raises(ValidationError):
            reading.read(body)
    else:
        assert _plain(reading.read(body)) == accepted


@pytest.mark.parametrize("reading", READ, ids=lambda r: r.contract.__name__)
def test_each_field_given_each_awkward_value_reads_as_pydantic_reads_it(reading: Reading) -> None:
    for name in reading.fast.fields:
        for value in [MISSING, *TRICKY]:
            _agrees(reading, _body(reading, {name: value}))


@settings(max_examples=400, deadline=None)
@given(
    reading=st.sampled_from(READ),
    data=st.data(),
)
def test_awkward_values_together_read_as_pydantic_reads_them(reading: Reading, data: Any) -> None:
    names = sorted(reading.fast.fields)
    changed = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    values = st.one_of(st.sampled_from([MISSING, *TRICKY]), st.text(max_size=20), st.integers())
    _agrees(reading, _body(reading, {name: data.draw(values) for name in changed}))


UNREAD_JUNK = [
    b'"\xff"',  # not UTF-8
    b'"\xed\xa0\x80"',  # a surrogate, encoded
    b'"\xc0\xaf"',  # an overlong slash
    b'"caf\xc3\xa9"',  # UTF-8, fine
    b"[" * 250 + b"]" * 250,  # deeper than pydantic reads
    b"[" * 1000 + b"]" * 1000,  # deeper than msgspec recurses
    b"1" * 5000,  # longer than Python's ints
    b'"a\tb"',  # a tab inside a string
    b'"\\q"',  # an escape JSON does not have
    b"01",
    b"NaN",
    b"[1,]",
    b'{"a": 1,}',
    b"true",
]


@pytest.mark.parametrize("junk", UNREAD_JUNK)
@pytest.mark.parametrize("reading", READ[:3], ids=lambda r: r.contract.__name__)
def test_a_field_no_rule_reads_is_held_to_pydantics_json(reading: Reading, junk: bytes) -> None:
    """msgspec skips what no rule reads without checking its UTF-8, its nesting or its
    numbers' length; pydantic refuses such a body, and its record goes to the dead letters."""
    body = _body(reading, {})[:-1] + b', "note": ' + junk + b"}"
    _agrees(reading, body)


def test_an_instant_with_a_seventh_digit_reads_as_pydantic_reads_it() -> None:
    """msgspec rounds it (to the next day, here), pydantic drops it."""
    reading = reading_of("id.go.bnn.ibm.client-case.ClientScreened.v1")
    assert reading is not None
    for instant in (
        "2026-12-31T23:59:59.9999995+08:00",
        "2026-12-31T23:59:59.999999+08:00",
        "2026-12-31T15:59:59Z",
        "2026-12-31T24:00:00+08:00",
        "2026-12-31T10:00:00+0800",
        "2026-12-31 10:00:00+08:00",
    ):
        _agrees(reading, _body(reading, {"screened_at": instant}))
    fields = reading.read(_body(reading, {"screened_at": "2026-12-31T23:59:59.9999995+08:00"}))
    assert fields["screened_at"].date().year == 2026


@pytest.mark.parametrize("body", [b"", b"[]", b"null", b"not json", b'{"unit_id": 1'])
def test_a_body_that_is_not_an_object_is_named_by_pydantic(body: bytes) -> None:
    reading = READ[0]
    assert reading.fast.read(body) is None
    with pytest.raises(ValidationError):
        reading.read(body)


def test_a_code_with_a_trailing_newline_is_refused_as_pydantic_refuses_it() -> None:
    """Python's `$` matches before a final newline, Rust's (pydantic's) does not."""
    reading = reading_of("id.go.bnn.ibm.scheduling.SessionCompleted.v1")
    assert reading is not None
    body = _body(reading, {"province_code": "74\n", "village_code": "74.71.01.1001"})
    assert reading.fast.read(body) is None
    with pytest.raises(ValidationError) as refused:
        reading.read(body)
    assert refused.value.errors()[0]["loc"] == ("province_code",)


def test_a_rule_msgspec_cannot_check_leaves_no_fast_path() -> None:
    class WithValidator(EventData):
        age_band: AgeBand = Field(examples=["25-29"])

    class WithRegexInside(EventData):
        odd: Annotated[str, StringConstraints(pattern=r"^a$b")] = Field(examples=["a"])

    class WithEscapedDollar(EventData):
        price: Annotated[str, StringConstraints(pattern=r"^[0-9]+\$")] = Field(examples=["5$"])

    class WithCompiledPattern(EventData):
        code: Annotated[str, StringConstraints(pattern=re.compile(r"^a+$"))] = Field(examples=["a"])

    for contract, name in (
        (WithValidator, "age_band"),
        (WithRegexInside, "odd"),
        (WithEscapedDollar, "price"),
        (WithCompiledPattern, "code"),
    ):
        with pytest.raises(TypeError, match="no fast path"):
            fast_reader(contract, [name])


@pytest.mark.parametrize(
    "reading",
    [r for r in READ if r.rule is not None],
    ids=lambda r: r.contract.__name__,
)
def test_every_fact_carries_its_rows_key_columns(reading: Reading) -> None:
    """A new row is its fact's values as they are (`Batch.fold`): a key column missing from
    them would reach PostgreSQL as NULL."""
    assert reading.rule is not None
    fields = reading.read(_body(reading, {}))
    for table, key, values in reading.rule(fields, "event-0000000000000001"):
        assert {name: values.get(name) for name in keys_of(table)} == dict(
            zip(keys_of(table), key, strict=True)
        )


def test_every_type_of_the_catalog_has_a_fast_path() -> None:
    for contract in all_contracts():
        reading = reading_of(contract.event_type)
        assert reading is not None
        assert reading.fast.read(_body(reading, {})) is not None
