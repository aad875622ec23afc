"""a province's referral keys

Revision ID: client_case_0008
Revises: client_case_0007
"""

import sqlalchemy as sa
from alembic import op

revision = "client_case_0008"
down_revision = "client_case_0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "referral_submissions",
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("referral_key", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.referral_id"]),
        sa.PrimaryKeyConstraint("province_code", "referral_key"),
    )


def downgrade() -> None:
    op.drop_table("referral_submissions")
