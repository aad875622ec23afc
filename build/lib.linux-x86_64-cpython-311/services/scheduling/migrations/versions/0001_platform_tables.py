"""The scheduling service's outbox and inbox.

Revision ID: scheduling_0001
Revises:
"""

from shared.messaging.tables import create_platform_tables_v1, drop_platform_tables_v1

revision = "scheduling_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables_v1()


def downgrade() -> None:
    drop_platform_tables_v1()
