"""Accepted inbound ids, so a province's resent message is answered as a duplicate.

Revision ID: scheduling_0004
Revises: scheduling_0003
"""

from alembic import op

from shared.messaging.tables import create_inbound_accepted_v1

revision = "scheduling_0004"
down_revision = "scheduling_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbound_accepted_v1()


def downgrade() -> None:
    op.drop_table("inbound_accepted")
