"""Constrained values of the event contracts: Kemendagri region codes, identifiers, decree
numbers, age bands, rule codes and the like. A rejected payload names the field that broke
the rule."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints
from pydantic_core import PydanticCustomError

# --- Kemendagri region codes -----------------------------------------------------------------
# Codes, not names: names change spelling, codes change only by decree (keep the edition).

ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
"""Province code, 2 digits, e.g. ``74``."""
RegencyCode = Annotated[str, StringConstraints(pattern=r"^\d{2}\.\d{2}$")]
"""Regency/city code, e.g. ``74.71`` (01-69 regencies, 71-99 cities)."""
DistrictCode = Annotated[str, StringConstraints(pattern=r"^\d{2}\.\d{2}\.\d{2}$")]
"""District (kecamatan) code, e.g. ``74.71.01``."""
VillageCode = Annotated[str, StringConstraints(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$")]
"""Village code, e.g. ``74.71.01.1001`` (suffix 1xxx kelurahan, 2xxx desa)."""

# --- Identifiers -----------------------------------------------------------------------------
# Letters, digits and hyphens only: an id field must not be able to carry a name or a phone
# number with spaces or a plus sign, which would put identity on the bus.

EntityId = Annotated[
    str, StringConstraints(min_length=16, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
]
"""Opaque id of an aggregate or record: a UUID or ULID as a string."""

ClientRef = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
"""Pseudonym of a client: lowercase hex HMAC-SHA256, keyed with a platform secret, of the
normalised NIK (or of another stable identity key when the client has no NIK)."""

# Receipts echo what a province sent, so these two accept any CloudEvents-valid string: a
# receipt must be buildable even for an event whose type or id is odd.
MessageId = Annotated[str, StringConstraints(min_length=1, max_length=512)]
"""A CloudEvents ``id`` as a provincial system sent it."""

EventTypeName = Annotated[str, StringConstraints(min_length=1, max_length=512)]
"""A CloudEvents ``type`` as sent, e.g. ``id.go.bnn.ibm.client-case.ClientScreened.v1``."""

OfficeCode = Annotated[str, StringConstraints(pattern=r"^(BNNP-\d{2}|BNNK-\d{2}\.\d{2})$")]
"""A BNN facilitating office: ``BNNP-<province>`` or ``BNNK-<regency/city>``."""

FacilityCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z.-]+$")
]
"""Code of a receiving facility (clinic, balai, loka, hospital, IPWL)."""

DecreeNumber = Annotated[
    str, StringConstraints(min_length=1, max_length=80, pattern=r"^[0-9A-Za-z./-]+$")
]
"""Number of a decree (Surat Keputusan), e.g. ``141/07/KEL-MDG/2025``: no spaces, so not prose."""

RuleSetVersion = Annotated[
    str, StringConstraints(min_length=3, max_length=64, pattern=r"^[a-z0-9.-]+/[0-9A-Za-z.-]+$")
]
"""Version of the scoring rule set, ``<instrument>/<edition>``, e.g. ``assist-3.1/2026.1``."""


def _coarse_band(band: str) -> str:
    if "-" in band:
        low, high = (int(n) for n in band.split("-"))
        if not 4 <= high - low <= 9:
            raise PydanticCustomError(
                "age-band", "an age band spans 5 to 10 years, youngest first (e.g. 15-19)"
            )
    return band


AgeBand = Annotated[
    str,
    StringConstraints(pattern=r"^(\d{1,2}-\d{1,2}|\d{1,2}\+)$"),
    AfterValidator(_coarse_band),
]
"""A coarse age band of 5 to 10 years, youngest first, e.g. ``15-19``, or an open top band such
as ``65+``; never a birth date or an exact age."""

# Rejection reasons are built from pydantic errors and from envelope checks (rules such as
# ``equals:1.0`` or ``known-type``, fields such as ``ce_type``): kept loose enough that a
# receipt can always be built, since a receipt that fails validation would be a silent drop.
RuleCode = Annotated[
    str, StringConstraints(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
]
"""A short machine-readable rule name, e.g. ``string_pattern_mismatch`` or ``known-type``."""

FieldPath = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^\S+$")]
"""A dotted path to a field of a payload, list items by index, e.g. ``scores.2.score``."""

FiscalYear = Annotated[int, Field(ge=2000, le=2100)]
"""A calendar (and Indonesian fiscal) year."""

CaseWeek = Annotated[int, Field(ge=1, le=16)]
"""Week of the 16-week service course: 1 is screening, 2-16 intake through aftercare."""
