"""people: the NIK's only link to a person, destroyed on erasure; clients per unit; the unit
of an identity read

Revision ID: client_case_0006
Revises: client_case_0005

Until now `clients.client_ref` was the keyed pseudonym of the NIK itself and unique: a NIK
registered in any unit resolved to the one client. From here every unit keeps its own client
record of a person, and the pseudonym of the NIK lives only in `people`, pointing at the
person's `client_ref`. Existing clients keep their `client_ref` (it is in the events already);
their lookup row is that same value, since it was computed the same way. Erased clients get no
lookup row: their NIK resolves to nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "client_case_0006"
down_revision = "client_case_0005"
branch_labels = None
depends_on = None

# SQLite reflects the old unique constraint without a name; this names it for batch mode.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column(
            "lookup",
            sa.String(length=64),
            nullable=False,
            comment="HMAC of the NIK or province key",
        ),
        sa.Column("client_ref", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("lookup"),
    )
    op.create_index("ix_people_client_ref", "people", ["client_ref"])
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table(
        "clients", naming_convention=_SQLITE_NAMES if sqlite else None
    ) as batch_op:
        batch_op.drop_constraint(
            "uq_clients_client_ref" if sqlite else "clients_client_ref_key", type_="unique"
        )
        batch_op.create_unique_constraint(
            "uq_clients_unit_person", ["registered_unit_id", "client_ref"]
        )
        batch_op.create_index("ix_clients_client_ref", ["client_ref"])
        batch_op.alter_column(
            "client_ref",
            existing_type=sa.String(length=64),
            existing_nullable=False,
            comment="the person's random pseudonym, shared by the person's clients in every unit",
        )
    with op.batch_alter_table("identity_reads") as batch_op:
        batch_op.alter_column(
            "actor",
            existing_type=sa.String(length=120),
            existing_nullable=False,
            comment="the caller: the token's subject",
        )
        batch_op.add_column(
            sa.Column(
                "unit_id",
                sa.String(length=64),
                nullable=True,
                comment="the caller's unit, for an agent",
            )
        )
    op.execute(
        "INSERT INTO people (lookup, client_ref) SELECT client_ref, client_ref FROM clients"
        " WHERE wrapped_data_key IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("identity_reads") as batch_op:
        batch_op.drop_column("unit_id")
    with op.batch_alter_table("clients") as batch_op:
        batch_op.drop_index("ix_clients_client_ref")
        batch_op.drop_constraint("uq_clients_unit_person", type_="unique")
        batch_op.create_unique_constraint("clients_client_ref_key", ["client_ref"])
    op.drop_index("ix_people_client_ref", "people")
    op.drop_table("people")
