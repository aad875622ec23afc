"""Facts about Kemendagri region codes every service needs: which of Indonesia's three time
zones a province keeps. Plain rules, no data (the region list itself is the registry's)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo


class TimeZone(StrEnum):
    WIB = "Asia/Jakarta"  # UTC+7
    WITA = "Asia/Makassar"  # UTC+8
    WIT = "Asia/Jayapura"  # UTC+9


def time_zone_of(province_code: str) -> TimeZone:
    """Indonesia's three zones by province (Keppres 41/1987, kept for the provinces formed
    since): Bali, Nusa Tenggara, South/East/North Kalimantan and Sulawesi are WITA; Maluku and
    Papua are WIT; Sumatra, Java, West and Central Kalimantan are WIB."""
    number = int(province_code[:2])
    if number in (51, 52, 53) or 63 <= number <= 76:
        return TimeZone.WITA
    if number >= 81:
        return TimeZone.WIT
    return TimeZone.WIB


def local_today(now: datetime, province_code: str) -> date:
    """The date it is in the province at `now` (an aware instant): a province's facts are
    dated in its own day, and "not in the future" is judged by it."""
    return now.astimezone(ZoneInfo(time_zone_of(province_code).value)).date()


def latest_today(now: datetime) -> date:
    """The date it is in the easternmost zone (WIT): no Indonesian's today is later, so a date
    after it is in the future for everyone (for entries whose province is not yet known)."""
    return now.astimezone(ZoneInfo(TimeZone.WIT.value)).date()


PROVINCE_CODES = (
    *("11", "12", "13", "14", "15", "16", "17", "18", "19", "21"),
    *("31", "32", "33", "34", "35", "36", "51", "52", "53", "61", "62", "63", "64", "65"),
    *("71", "72", "73", "74", "75", "76", "81", "82", "91", "92", "93", "94", "95", "96"),
)
"""The 38 provinces of the registry's edition (Kepmendagri 300.2.2-2138/2025): every one has
an inbound and a receipts topic from the platform's first start."""
