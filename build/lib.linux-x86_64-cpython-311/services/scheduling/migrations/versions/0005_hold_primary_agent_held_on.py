"""sessions on hold, primary agents, dates held and closed, units' formation and status dates

Sessions that the old suspension cancelled in cases still open become `on_hold`: a closed
case's sessions were cancelled with the case closed, so an open case's cancelled sessions can
only come from a unit being suspended or dissolved. They are re-planned when the unit returns,
the case is transferred, or an agent re-plans the case.

Revision ID: scheduling_0005
Revises: scheduling_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "scheduling_0005"
down_revision = "scheduling_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("formed_on", sa.Date(), nullable=True))

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("primary_agent_id", sa.String(length=64), nullable=True))

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("closed_on", sa.Date(), nullable=True))

    cases = sa.table("cases", sa.column("case_id", sa.String), sa.column("closed", sa.Boolean))
    sessions = sa.table("sessions", sa.column("case_id", sa.String), sa.column("state", sa.String))
    op.execute(
        sessions.update()
        .where(
            sessions.c.state == "cancelled",
            sessions.c.case_id.in_(sa.select(cases.c.case_id).where(cases.c.closed.is_(False))),
        )
        .values(state="on_hold")
    )


def downgrade() -> None:
    sessions = sa.table("sessions", sa.column("state", sa.String))
    op.execute(sessions.update().where(sessions.c.state == "on_hold").values(state="cancelled"))

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("closed_on")
        batch_op.drop_column("held_on")

    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("primary_agent_id")

    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_column("formed_on")
        batch_op.drop_column("status_on")
