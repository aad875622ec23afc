"""Accepted inbound ids, so a province's resent message is answered as a duplicate.

Revision ID: client_case_0005
Revises: client_case_0004
"""

from alembic import op

from shared.messaging.tables import create_inbound_accepted_v1

revision = "client_case_0005"
down_revision = "client_case_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_inbound_accepted_v1()


def downgrade() -> None:
    op.drop_table("inbound_accepted")
