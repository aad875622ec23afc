"""Facts about Kemendagri region codes every service needs: which of Indonesia's three time
zones a province keeps. Plain rules, no data (the region list itself is the registry's)."""

from __future__ import annotations

from enum import StrEnum


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
