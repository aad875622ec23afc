"""known agents; the injecting-risk flag of a case; identity changes in the audit

Revision ID: client_case_0007
Revises: client_case_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "client_case_0007"
down_revision = "client_case_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "known_agents",
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("deactivated_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("agent_id"),
    )
    with op.batch_alter_table("cases") as batch_op:
        batch_op.add_column(sa.Column("injecting_risk_on", sa.Date(), nullable=True))
    with op.batch_alter_table("identity_reads") as batch_op:
        batch_op.add_column(
            sa.Column(
                "action",
                sa.String(length=10),
                nullable=False,
                server_default="read",
                comment="read or change",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_reads") as batch_op:
        batch_op.drop_column("action")
    with op.batch_alter_table("cases") as batch_op:
        batch_op.drop_column("injecting_risk_on")
    op.drop_table("known_agents")
