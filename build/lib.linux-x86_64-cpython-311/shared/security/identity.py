"""The NIK (16-digit national id) and the keyed pseudonym that stands for a person.

A NIK is identifying on its own: digits 1 to 6 are the district of registration, 7 to 12 the
birth date (day + 40 for women), 13 to 16 a serial. It is optional; when given it is normalised
and checked, and only its keyed pseudonym (HMAC-SHA256 with a secret key) ever leaves the
client-case service: the same person gets the same `client_ref` in every unit and province,
and without the key nobody can go back from the pseudonym to the NIK.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date

_SEPARATORS = re.compile(r"[\s.\-]")


@dataclass(frozen=True)
class NikProblem:
    rule: str
    message: str


def normalise_nik(raw: str) -> str:
    """Digits only: people write NIKs with spaces, dots or dashes."""
    return _SEPARATORS.sub("", raw)


def nik_problems(nik: str, *, today: date) -> list[NikProblem]:
    """Why a normalised NIK cannot be real; empty when it is plausible. Messages never repeat
    the NIK itself."""
    if not re.fullmatch(r"\d{16}", nik):
        return [NikProblem("nik-16-digits", "a NIK has exactly 16 digits")]
    problems = []
    province = int(nik[:2])
    if not 11 <= province <= 96:
        problems.append(NikProblem("nik-region", "the first two digits are not a province"))
    if nik[2:4] == "00" or nik[4:6] == "00":
        problems.append(NikProblem("nik-region", "digits 3 to 6 are not a regency and district"))
    day, month, year2 = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    day = day - 40 if day > 40 else day  # women: day + 40
    year = 2000 + year2 if 2000 + year2 <= today.year else 1900 + year2
    try:
        born = date(year, month, day)
    except ValueError:
        problems.append(NikProblem("nik-birth-date", "digits 7 to 12 are not a birth date"))
    else:
        if born > today:
            problems.append(NikProblem("nik-birth-date", "the birth date is in the future"))
    if nik[12:] == "0000":
        problems.append(NikProblem("nik-serial", "the last four digits cannot be 0000"))
    return problems


def pseudonym(key: bytes, nik: str) -> str:
    """The person's `client_ref`: HMAC-SHA256 of the normalised NIK, 64 hex digits."""
    if len(key) < 32:
        raise ValueError("the pseudonym key needs at least 32 bytes")
    return hmac.new(key, f"nik:{normalise_nik(nik)}".encode(), hashlib.sha256).hexdigest()
