"""The registry's own database: regions, offices, units, agents, and its outbox and inbox."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

from shared.messaging.tables import platform_tables

MIGRATIONS = Path(__file__).parent / "migrations"

metadata = MetaData()
platform = platform_tables(metadata, answers_provinces=True)

region_editions = Table(
    "region_editions",
    metadata,
    Column("edition", String(80), primary_key=True, comment="e.g. the decree number"),
    Column("source", String(200), nullable=False, comment="data package and version"),
    Column("loaded_at", DateTime(timezone=True), nullable=False),
    Column("counts", JSON, nullable=False, comment="rows per level"),
)

regions = Table(
    "regions",
    metadata,
    Column("code", String(13), primary_key=True),
    Column("level", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("parent_code", String(13), nullable=True, index=True),
    Column("province_code", String(2), nullable=False),
    Column("time_zone", String(20), nullable=True, comment="provinces only"),
    Column("edition", String(80), nullable=False),
)
Index("ix_regions_level_province", regions.c.level, regions.c.province_code)

offices = Table(
    "offices",
    metadata,
    Column("code", String(20), primary_key=True, comment="BNNP-74 or BNNK-74.71"),
    Column("kind", String(4), nullable=False),
    Column("region_code", String(13), nullable=False, index=True),
    Column("name", String(200), nullable=False),
)

units = Table(
    "units",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("village_code", String(13), nullable=False, index=True),
    Column("province_code", String(2), nullable=False),
    Column("regency_code", String(5), nullable=False),
    Column("name", String(100), nullable=False),
    Column("decree_number", String(80), nullable=False),
    Column("decree_signed_on", Date, nullable=False),
    Column("decree_signatory", String(40), nullable=False),
    Column("formed_on", Date, nullable=False),
    Column("formation", String(20), nullable=False),
    Column("facilitating_office", String(20), ForeignKey("offices.code"), nullable=False),
    Column("status", String(12), nullable=False),
    Column("status_since", Date, nullable=True),
    Column("version", Integer, nullable=False),
)
Index("ix_units_region", units.c.province_code, units.c.regency_code)

unit_status_changes = Table(
    "unit_status_changes",
    metadata,
    Column(
        "id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    ),
    Column("unit_id", String(64), ForeignKey("units.unit_id"), nullable=False, index=True),
    Column("from_status", String(12), nullable=False),
    Column("to_status", String(12), nullable=False),
    Column("reason", String(40), nullable=False),
    Column("effective_on", Date, nullable=False),
)

unit_funding = Table(
    "unit_funding",
    metadata,
    Column("funding_id", String(64), primary_key=True),
    Column("unit_id", String(64), ForeignKey("units.unit_id"), nullable=False, index=True),
    Column("fiscal_year", Integer, nullable=False),
    Column("source", String(20), nullable=False),
    Column("amount_idr", BigInteger, nullable=True),
)

agents = Table(
    "agents",
    metadata,
    Column(
        "agent_id",
        String(64),
        primary_key=True,
        comment="Pseudonymous: no name, NIK or phone is kept by the registry.",
    ),
    Column("unit_id", String(64), ForeignKey("units.unit_id"), nullable=False, index=True),
    Column("role", String(20), nullable=False),
    Column("decree_number", String(80), nullable=False),
    Column("decree_signed_on", Date, nullable=False),
    Column("decree_signatory", String(40), nullable=False),
    Column("appointed_on", Date, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("deactivated_on", Date, nullable=True),
    Column("deactivation_reason", String(30), nullable=True),
    Column("master_key_id", String(40), nullable=True),
    Column("wrapped_data_key", LargeBinary, nullable=True),
    Column(
        "display_name_sealed",
        LargeBinary,
        nullable=True,
        comment="The name the unit knows the agent by, sealed; never in events.",
    ),
)

agent_trainings = Table(
    "agent_trainings",
    metadata,
    Column("training_id", String(64), primary_key=True),
    Column("agent_id", String(64), ForeignKey("agents.agent_id"), primary_key=True, index=True),
    Column("kind", String(30), nullable=False),
    Column("completed_on", Date, nullable=False),
    Column("provider", String(20), nullable=False),
    Column("certificate", String(80), nullable=True),
)
