"""cube changes: which provinces and years each projected batch touched

The suppressed cubes are recomputed in the background, only those a batch touched; this table
says which, for every replica.

Revision ID: reporting_0004
Revises: reporting_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0004"
down_revision = "reporting_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cube_changes",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("generation", "province_code", "year"),
    )


def downgrade() -> None:
    op.drop_table("cube_changes")
