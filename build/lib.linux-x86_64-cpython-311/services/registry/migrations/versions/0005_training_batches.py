"""a training batch (angkatan) has many agents: agent_trainings keyed by (training_id, agent_id)

Revision ID: registry_0005
Revises: registry_0004

The table is rebuilt (the same on SQLite and PostgreSQL): a new one with the composite key,
the rows copied, the old one dropped, the new one renamed.
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0005"
down_revision = "registry_0004"
branch_labels = None
depends_on = None

_COLUMNS = "training_id, agent_id, kind, completed_on, provider, certificate"


def _create(name: str, key: list[str]) -> None:
    op.create_table(
        name,
        sa.Column("training_id", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("certificate", sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.agent_id"]),
        sa.PrimaryKeyConstraint(*key, name=f"pk_{name}"),
    )


def _rebuild(key: list[str]) -> None:
    _create("agent_trainings_rebuilt", key)
    op.execute(
        f"INSERT INTO agent_trainings_rebuilt ({_COLUMNS}) SELECT {_COLUMNS} FROM agent_trainings"  # noqa: S608 - fixed names
    )
    op.drop_index("ix_agent_trainings_agent_id", table_name="agent_trainings")
    op.drop_table("agent_trainings")
    op.rename_table("agent_trainings_rebuilt", "agent_trainings")
    op.create_index("ix_agent_trainings_agent_id", "agent_trainings", ["agent_id"])


def upgrade() -> None:
    _rebuild(["training_id", "agent_id"])


def downgrade() -> None:
    _rebuild(["training_id"])
