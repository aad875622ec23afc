"""honest lineage: when each row's latest event arrived, and the events already applied

`last_event_at` becomes when the latest fact happened (event time); until a rebuild
(`pulih reporting rebuild`) restates it, rows keep the arrival time they had, now also in
`last_received_at`.

Revision ID: reporting_0003
Revises: reporting_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0003"
down_revision = "reporting_0002"
branch_labels = None
depends_on = None

FACT_TABLES = (
    "units",
    "agents",
    "trainings",
    "activities",
    "services_held",
    "screenings",
    "screened_substances",
    "cases",
    "stage_entries",
    "referrals",
    "relapses",
)


def upgrade() -> None:
    for table in FACT_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=True)
            )
        op.execute(f"UPDATE {table} SET last_received_at = last_event_at")  # noqa: S608
    op.create_table(
        "projected_events",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("generation", "event_id"),
    )


def downgrade() -> None:
    op.drop_table("projected_events")
    for table in FACT_TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("last_received_at")
