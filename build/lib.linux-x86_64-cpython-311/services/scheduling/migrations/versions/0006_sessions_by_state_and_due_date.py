"""open sessions by state and due date: the sweeper moves ranges of them, reading none

Built without holding writes to `sessions` off (PostgreSQL: concurrently, outside the
migration's transaction): at national size the table holds about 10^7 sessions.

Revision ID: scheduling_0006
Revises: scheduling_0005
"""

from alembic import op

from shared.migrations import create_index_concurrently

revision = "scheduling_0006"
down_revision = "scheduling_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index_concurrently("ix_sessions_state_due_on", "sessions", ["state", "due_on"])


def downgrade() -> None:
    op.drop_index("ix_sessions_state_due_on", table_name="sessions")
