"""Accepted inbound ids, so a province's resent message is answered as a duplicate.

Revision ID: registry_0003
Revises: registry_0002
"""

from alembic import op

from shared.messaging.tables import create_inbound_accepted_v1

revision = "registry_0003"
down_revision = "registry_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbound_accepted_v1()


def downgrade() -> None:
    op.drop_table("inbound_accepted")
