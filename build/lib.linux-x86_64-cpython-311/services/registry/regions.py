"""Loading the official region tree (Kemendagri codes) from a maintained data package.

The data is npm's `idn-area-data` (services/registry/region-list/package.json pins it; `make`
installs it; data licence ODbL 1.0), read as its CSV files. Nothing here types a region by
hand. Loading is an idempotent upsert: PostgreSQL gets the rows through COPY into a temporary
table, SQLite through executemany. Rows of codes that a newer edition no longer has are kept,
with their edition, because units recorded against them must still resolve.
"""

from __future__ import annotations

import csv
import json
import os
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import literal_column, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.registry.db import offices, region_editions, regions
from services.registry.domain import RegionLevel
from shared.regions import time_zone_of

PACKAGE_DIR = Path(__file__).parent / "region-list" / "node_modules" / "idn-area-data"

# The decree each major version of the package follows (its README and changelog).
EDITIONS = {"4": "Kepmendagri 300.2.2-2138/2025", "3": "Kepmendagri 100.1.1-6117/2022"}

FILES = (
    (RegionLevel.PROVINCE, "provinces.csv", None),
    (RegionLevel.REGENCY, "regencies.csv", "province_code"),
    (RegionLevel.DISTRICT, "districts.csv", "regency_code"),
    (RegionLevel.VILLAGE, "villages.csv", "district_code"),
)
COLUMNS = ("code", "level", "name", "parent_code", "province_code", "time_zone", "edition")


@dataclass(frozen=True)
class RegionSource:
    data_dir: Path
    package: str
    edition: str

    @classmethod
    def installed(cls, package_dir: Path | None = None) -> RegionSource:
        root = Path(os.environ.get("PULIH_REGION_PACKAGE_DIR", package_dir or PACKAGE_DIR))
        manifest = root / "package.json"
        if not manifest.exists():
            raise FileNotFoundError(
                f"region data package not found at {root}: run `make setup` "
                "(npm ci in services/registry/region-list)"
            )
        version = json.loads(manifest.read_text())["version"]
        edition = EDITIONS.get(version.split(".")[0])
        if edition is None:
            raise ValueError(f"idn-area-data {version}: which decree it follows is unknown")
        return cls(root / "data", f"npm idn-area-data {version}", edition)

    def rows(self, provinces: set[str] | None = None) -> Iterator[tuple[Any, ...]]:
        for level, filename, parent_column in FILES:
            with (self.data_dir / filename).open(newline="", encoding="utf-8") as f:
                for record in csv.DictReader(f):
                    code = record["code"]
                    province = code[:2]
                    if provinces is not None and province not in provinces:
                        continue
                    yield (
                        code,
                        level.value,
                        record["name"].strip(),
                        record[parent_column] if parent_column else None,
                        province,
                        time_zone_of(code).name if level is RegionLevel.PROVINCE else None,
                        self.edition,
                    )


@dataclass(frozen=True)
class LoadReport:
    edition: str
    counts: dict[str, int]
    offices: int
    seconds: float


async def load_regions(
    engine: AsyncEngine,
    source: RegionSource,
    *,
    provinces: set[str] | None = None,
    bnnk_regencies: Iterable[str] | str = (),
) -> LoadReport:
    """Upsert the region tree (optionally only some provinces) and the BNN offices: a BNNP for
    every province, a BNNK for each configured regency ("all" for every one)."""
    started = time.perf_counter()
    rows = list(source.rows(provinces))
    counts = Counter(row[1] for row in rows)
    names = {row[0]: row[2] for row in rows}
    office_rows = [
        {
            "code": f"BNNP-{code}",
            "kind": "BNNP",
            "region_code": code,
            "name": f"BNN Provinsi {names[code]}",
        }
        for code, level, *_ in rows
        if level == RegionLevel.PROVINCE
    ]
    wanted = (
        {row[0] for row in rows if row[1] == RegionLevel.REGENCY}
        if bnnk_regencies == "all"
        else set(bnnk_regencies)
    )
    office_rows += [
        {"code": f"BNNK-{code}", "kind": "BNNK", "region_code": code, "name": f"BNN {names[code]}"}
        for code in sorted(wanted)
        if code in names
    ]
    async with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            await _copy_upsert_postgres(connection, rows)
        else:
            await _upsert_sqlite(connection, rows)
        await _upsert(connection, offices, office_rows, ["code"])
        await _upsert(
            connection,
            region_editions,
            [
                {
                    "edition": source.edition,
                    "source": source.package,
                    "loaded_at": datetime.now(UTC),
                    "counts": dict(counts),
                }
            ],
            ["edition"],
        )
    return LoadReport(source.edition, dict(counts), len(office_rows), time.perf_counter() - started)


async def _copy_upsert_postgres(connection: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    await connection.execute(
        text("CREATE TEMP TABLE regions_in (LIKE regions INCLUDING DEFAULTS) ON COMMIT DROP")
    )
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "regions_in", records=rows, columns=list(COLUMNS)
    )
    incoming = select(*(literal_column(c) for c in COLUMNS)).select_from(text("regions_in"))
    statement = postgresql.insert(regions).from_select(list(COLUMNS), incoming)
    statement = statement.on_conflict_do_update(
        index_elements=["code"],
        set_={c: statement.excluded[c] for c in COLUMNS[1:]},
        where=or_(*(regions.c[c].is_distinct_from(statement.excluded[c]) for c in COLUMNS[1:])),
    )
    await connection.execute(statement)


async def _upsert_sqlite(connection: AsyncConnection, rows: list[tuple[Any, ...]]) -> None:
    statement = sqlite.insert(regions)
    statement = statement.on_conflict_do_update(
        index_elements=["code"], set_={c: statement.excluded[c] for c in COLUMNS[1:]}
    )
    for start in range(0, len(rows), 20_000):
        await connection.execute(
            statement,
            [dict(zip(COLUMNS, row, strict=True)) for row in rows[start : start + 20_000]],
        )


async def _upsert(
    connection: AsyncConnection, table: Any, rows: list[dict[str, Any]], keys: list[str]
) -> None:
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=keys,
        set_={c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys},
    )
    await connection.execute(statement, rows)
