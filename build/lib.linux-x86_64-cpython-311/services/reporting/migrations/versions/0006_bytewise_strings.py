"""bytewise strings: every string column of the read model compared byte by byte on PostgreSQL

`COLLATE "C"` on the codes, ids and enum names of the read model (all ASCII, so in the same
order as before): ids go into their indexes without the locale's comparison rules, and a
region's prefix (`village_code LIKE '33.%'`) can use the `village_code` index. Every string
column of these tables changes at once, so no query compares two collations. SQLite keeps
its own (byte by byte already). The indexes on these columns are rebuilt; the rows are not
rewritten.

Revision ID: reporting_0006
Revises: reporting_0005
"""

from alembic import op

revision = "reporting_0006"
down_revision = "reporting_0005"
branch_labels = None
depends_on = None

_WHERE = [("unit_id", 64), ("village_code", 13)]
COLUMNS: dict[str, list[tuple[str, int]]] = {
    "positions": [("topic", 255)],
    "projected_events": [("event_id", 128)],
    "cube_changes": [("province_code", 2)],
    "rejections": [
        ("province_code", 2),
        ("original_event_id", 512),
        ("original_type", 512),
        ("month", 7),
    ],
    "units": [*_WHERE, ("formation", 20), ("status", 12)],
    "agents": [("agent_id", 64), *_WHERE],
    "trainings": [("agent_id", 64), ("training_id", 64), *_WHERE, ("training_kind", 30)],
    "activities": [("activity_id", 64), *_WHERE, ("activity_type", 20)],
    "services_held": [("session_id", 64), *_WHERE, ("session_type", 30)],
    "screenings": [("case_id", 64), *_WHERE, ("risk_level", 10)],
    "screened_substances": [("case_id", 64), ("substance", 40), *_WHERE, ("risk_level", 10)],
    "cases": [
        ("case_id", 64),
        *_WHERE,
        ("admission_route", 12),
        ("aftercare_source", 20),
        ("risk_level", 10),
        ("outcome", 20),
    ],
    "stage_entries": [("case_id", 64), ("stage", 12), *_WHERE],
    "referrals": [
        ("referral_id", 64),
        *_WHERE,
        ("destination_type", 30),
        ("resolution", 12),
    ],
    "relapses": [("event_id", 64), *_WHERE, ("case_id", 64), ("source", 20)],
}


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        changes = ", ".join(
            f'ALTER COLUMN "{name}" TYPE VARCHAR({length}) COLLATE {collation}'
            for name, length in columns
        )
        op.execute(f'ALTER TABLE "{table}" {changes}')


def upgrade() -> None:
    _collate('"C"')


def downgrade() -> None:
    _collate("pg_catalog.default")
