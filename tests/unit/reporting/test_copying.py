"""The projector's binary COPY encoder refuses what it cannot write, naming the column and
never the value (a value may be personal data); what it writes: the integration test of the
same name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, Table

from services.reporting import copying
from tests.integration.reporting.test_copying import COLUMNS

SECRET = "3174-0123-4567-0001"


@pytest.mark.parametrize(
    ("row", "error", "column"),
    [
        ({"id": 1, "day": SECRET}, TypeError, "day"),
        ({"id": 1, "day": datetime(2026, 1, 1, tzinfo=UTC)}, TypeError, "day"),
        ({"id": 1, "at": datetime(2026, 1, 1)}, ValueError, "at"),
        ({"id": 1, "at": date(2026, 1, 1)}, TypeError, "at"),
        ({"id": 1, "number": 2**31}, OverflowError, "number"),
        ({"id": 1, "number": True}, TypeError, "number"),
        ({"id": 1, "number": 1.0}, TypeError, "number"),
        ({"id": 1, "label": SECRET.encode()}, TypeError, "label"),
        ({"id": 1, "flag": 1}, TypeError, "flag"),
    ],
)
def test_a_value_of_another_kind_is_refused_naming_its_column_not_the_value(
    row: dict[str, Any], error: type[Exception], column: str
) -> None:
    with pytest.raises(error) as refused:
        copying.rows([row], COLUMNS, 1)
    assert column in str(refused.value)
    assert SECRET not in str(refused.value) and "2026" not in str(refused.value)


def test_rows_must_be_dicts_and_columns_known() -> None:
    with pytest.raises(TypeError, match="a row is a dict"):
        copying.rows([("id", 1)], COLUMNS, 1)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="no kind 9"):
        copying.rows([{"id": 1}], (("id", 9),), 1)
    with pytest.raises(TypeError, match="no COPY encoding"):
        copying.columns_of(Table("odd", MetaData(), Column("x", BigInteger)))
