"""Shared contract types refuse values that would put wrong facts into the figures."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.contracts.types import AgeBand

BAND = TypeAdapter(AgeBand)


@pytest.mark.parametrize("band", ["15-19", "25-29", "20-29", "65+", "0-4"])
def test_coarse_age_bands_are_accepted(band: str) -> None:
    assert BAND.validate_python(band) == band


@pytest.mark.parametrize("band", ["40-20", "0-0", "24-25", "20-39", "1995", "25"])
def test_reversed_empty_narrow_or_wide_bands_are_refused(band: str) -> None:
    with pytest.raises(ValidationError) as refused:
        BAND.validate_python(band)
    assert refused.value.errors()[0]["type"] in ("age-band", "string_pattern_mismatch")
