"""Reporting's figures beside the simulator's expected ones (`expected.py`): what reporting's
`GET /indicators/{indicator}` shows for a province, and each figure that differs, by how much.

Every indicator is compared for the province, where nothing is withheld. Its regencies are
compared for the indicators not derived from clients, which are never withheld; those derived
from clients may be withheld below province level (small counts, too few units, and the cells
that would give them away), so a regency's figure there is exact but not always shown, and
is not compared. `units_against_target` has no regencies (targets are national and
provincial)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

import httpx

from shared.simulation.expected import CLIENT_DERIVED, COUNTS, INDICATORS, Value, key

BY_REGENCY = tuple(i for i in INDICATORS if i not in CLIENT_DERIVED and i != "units_against_target")
"""The indicators compared for each regency too."""


def compared(
    figures: Mapping[str, Value], province: str, regencies: bool = True
) -> dict[str, Value]:
    """The expected figures a check compares: every indicator's for the province, and (unless
    not `regencies`) the regencies' of `BY_REGENCY`."""
    found = {}
    for name, value in figures.items():
        indicator, region, _year = name.split("|")
        below = regencies and region.startswith(f"{province}.") and indicator in BY_REGENCY
        if region == province or below:
            found[name] = value
    return found


def years_of(figures: Iterable[str]) -> list[int]:
    return sorted({int(name.rsplit("|", 1)[1]) for name in figures})


async def shown(
    http: httpx.AsyncClient,
    indicators: str,
    province: str,
    years: Iterable[int],
    headers: Mapping[str, str],
    regencies: bool = True,
) -> dict[str, Value]:
    """What reporting shows for the province (and its regencies, for `BY_REGENCY`) each year,
    by `expected.key`; `indicators` is the URL of reporting's `/indicators`. A figure reporting
    does not answer (yet) is left out."""
    found: dict[str, Value] = {}
    for year in years:
        for indicator in INDICATORS:
            level = "regency" if regencies and indicator in BY_REGENCY else "province"
            answer = await http.get(
                f"{indicators}/{indicator}",
                params={"period": str(year), "within": province, "level": level},
                headers=dict(headers),
            )
            if answer.status_code != 200:
                continue
            table = answer.json()
            found[key(indicator, province, year)] = table["within"]["value"]
            for row in table["rows"] if level == "regency" else ():
                found[key(indicator, row["region"], year)] = row["value"]
    return found


def differences(expected: Mapping[str, Value], figures: Mapping[str, Value]) -> list[str]:
    """Each figure that differs: `<indicator> <year> <region>: shown …, expected … (±n)`."""
    lines = []
    for name in sorted(expected.keys() | figures.keys()):
        want, got = expected.get(name), figures.get(name)
        if name in expected and name in figures and want == got:
            continue
        indicator, region, year = name.split("|")
        said = f"shown {got}" if name in figures else "not shown"
        said += f", expected {want}" if name in expected else ", expected no figure"
        if isinstance(want, int | float) and isinstance(got, int | float):
            said += f" ({got - want:+g})"
        lines.append(f"{indicator} {year} {region}: {said}")
    return lines


def lost_and_doubled(
    expected: Mapping[str, Value], figures: Mapping[str, Value], province: str
) -> tuple[int, int]:
    """Of the province's counts: how many the figures lack, and how many they count twice."""
    lost = doubled = 0
    for name, want in expected.items():
        indicator, region, _ = name.split("|")
        got = figures.get(name)
        if indicator in COUNTS and region == province and isinstance(want, int):
            shown_value = got if isinstance(got, int) else 0
            lost += max(0, want - shown_value)
            doubled += max(0, shown_value - want)
    return lost, doubled


async def province_checked(
    http: httpx.AsyncClient,
    figures: Mapping[str, Value],
    province: str,
    headers: Mapping[str, str],
    seconds: float,
) -> tuple[int, list[str], tuple[int, int]]:
    """Compare what the gateway shows for the province with its `compared` exact figures,
    again until they agree or `seconds` pass. Returns how many were compared, each that
    differs (`differences`) and the counts lost and counted twice (`lost_and_doubled`)."""
    expected = compared(figures, province)
    years = years_of(expected)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        shown_now = await shown(http, "/api/reporting/indicators", province, years, headers=headers)
        if shown_now == expected or loop.time() > deadline:
            break
        await asyncio.sleep(1)
    return (
        len(expected),
        differences(expected, shown_now),
        lost_and_doubled(expected, shown_now, province),
    )
