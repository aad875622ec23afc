"""A province's facts are dated in its own day: at 23:30 UTC it is already tomorrow in every
Indonesian zone, and at 16:30 UTC only in Papua and Maluku (WIT)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from shared.regions import latest_today, local_today


def test_each_province_has_its_own_day_and_the_latest_is_wits() -> None:
    late_evening = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)  # 23:30 WIB, 00:30 WITA, 01:30 WIT
    assert local_today(late_evening, "31") == date(2026, 11, 29)  # Jakarta, WIB
    assert local_today(late_evening, "74") == date(2026, 11, 30)  # Sulawesi Tenggara, WITA
    assert local_today(late_evening, "91") == date(2026, 11, 30)  # Papua, WIT
    assert latest_today(late_evening) == date(2026, 11, 30)
    early = datetime(2026, 11, 29, 14, 30, tzinfo=UTC)  # 21:30 WIB, 22:30 WITA, 23:30 WIT
    assert {local_today(early, p) for p in ("31", "74", "91")} == {date(2026, 11, 29)}
    assert latest_today(early) == date(2026, 11, 29)
