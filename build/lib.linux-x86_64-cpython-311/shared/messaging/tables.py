"""The platform tables every service keeps in its own database: outbox and inbox.

Each service's `db.py` calls `platform_tables(metadata)` on its own MetaData, and its own
Alembic history creates them, so no two services ever share a table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

# SQLite only autoincrements INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class PlatformTables:
    outbox: Table
    inbox: Table
    accepted: Table | None = None
    """Services answering provinces: which inbound ids became which canonical event."""


def platform_tables(metadata: MetaData, *, answers_provinces: bool = False) -> PlatformTables:
    outbox = Table(
        "outbox",
        metadata,
        Column(
            "id",
            BigId,
            primary_key=True,
            autoincrement=True,
            comment="Commit order; the relay publishes in this order.",
        ),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("topic", String(255), nullable=False),
        Column("key", LargeBinary, nullable=False),
        Column(
            "headers",
            JSON,
            nullable=False,
            comment="[name, value] pairs: ce_* attributes and the writer's traceparent.",
        ),
        Column("value", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("sent_at", DateTime(timezone=True), nullable=True),
    )
    Index(
        "ix_outbox_pending",
        outbox.c.id,
        postgresql_where=outbox.c.sent_at.is_(None),
        sqlite_where=outbox.c.sent_at.is_(None),
    )
    inbox = Table(
        "inbox",
        metadata,
        Column(
            "event_id",
            String(64),
            primary_key=True,
            comment="The CloudEvents id; written in the same transaction as the effect.",
        ),
        Column("event_type", String(255), nullable=False),
        Column("topic", String(255), nullable=False),
        Column("partition", Integer, nullable=False),
        Column("offset", BigInteger, nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False),
    )
    accepted = None
    if answers_provinces:
        accepted = Table(
            "inbound_accepted",
            metadata,
            Column("province_code", String(2), primary_key=True),
            Column(
                "original_event_id",
                String(512),
                primary_key=True,
                comment="The CloudEvents id as the province sent it.",
            ),
            Column("canonical_event_id", String(64), nullable=False),
            Column("accepted_at", DateTime(timezone=True), nullable=False),
        )
    return PlatformTables(outbox=outbox, inbox=inbox, accepted=accepted)


def create_platform_tables_v1() -> None:
    """Alembic operations creating the v1 outbox and inbox; frozen, called by each service's
    first migration. A later change to the tables is a new migration, not an edit here."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=False),
        sa.Column("headers", sa.JSON, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    pending = sa.text("sent_at IS NULL")
    op.create_index(
        "ix_outbox_pending", "outbox", ["id"], postgresql_where=pending, sqlite_where=pending
    )
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    )


def drop_platform_tables_v1() -> None:
    from alembic import op

    op.drop_table("inbox")
    op.drop_index("ix_outbox_pending", table_name="outbox")
    op.drop_table("outbox")


def create_inbound_accepted_v1() -> None:
    """Alembic operations creating the table of accepted inbound ids (a resent id is answered
    as a duplicate with its first canonical event); frozen like the v1 platform tables."""
    import sqlalchemy as sa
    from alembic import op

    op.create_table(
        "inbound_accepted",
        sa.Column("province_code", sa.String(2), primary_key=True),
        sa.Column("original_event_id", sa.String(512), primary_key=True),
        sa.Column("canonical_event_id", sa.String(64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    )
