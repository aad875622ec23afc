"""open sessions by state and due date: the sweeper moves ranges of them, reading none

Revision ID: scheduling_0006
Revises: scheduling_0005
"""

from alembic import op

revision = "scheduling_0006"
down_revision = "scheduling_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_sessions_state_due_on", "sessions", ["state", "due_on"])


def downgrade() -> None:
    op.drop_index("ix_sessions_state_due_on", table_name="sessions")
