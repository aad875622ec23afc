"""rejections: the submissions the platform refused, from the provinces' receipts topics

One row per refused submission (province, the id the province gave it), with the month of
the receipt in the province's time zone, for the data health's rejected submissions.

Revision ID: reporting_0005
Revises: reporting_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "reporting_0005"
down_revision = "reporting_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rejections",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("original_event_id", sa.String(length=512), nullable=False),
        sa.Column("original_type", sa.String(length=512), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("generation", "province_code", "original_event_id"),
    )
    op.create_index("rejections_month", "rejections", ["generation", "month"])


def downgrade() -> None:
    op.drop_index("rejections_month", table_name="rejections")
    op.drop_table("rejections")
