"""agents' display names, sealed under a data key of their own

Revision ID: registry_0004
Revises: registry_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0004"
down_revision = "registry_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(sa.Column("master_key_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("wrapped_data_key", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "display_name_sealed",
                sa.LargeBinary(),
                nullable=True,
                comment="The name the unit knows the agent by, sealed; never in events.",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("display_name_sealed")
        batch_op.drop_column("wrapped_data_key")
        batch_op.drop_column("master_key_id")
