"""The client-case service's own database. Identity lives only here, encrypted per person;
everything else refers to people by their pseudonym (`client_ref`) or a random client id."""

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
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

from shared.messaging.tables import platform_tables

MIGRATIONS = Path(__file__).parent / "migrations"
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()
platform = platform_tables(metadata, answers_provinces=True)

# What the registry published about units: enough to check a unit exists, is active, and
# where it is. Kept up to date from `ibm.registry`; never written by this service's users.
known_units = Table(
    "known_units",
    metadata,
    Column("unit_id", String(64), primary_key=True),
    Column("province_code", String(2), nullable=False),
    Column("village_code", String(13), nullable=False),
    Column("status", String(12), nullable=False),
)

# The only link from a NIK (or a province's own key for a person) to the person: the keyed
# pseudonym of the NIK → the person's random `client_ref`. Never leaves this service, never
# answered to a caller; deleted on erasure, so the NIK resolves to nothing afterwards.
people = Table(
    "people",
    metadata,
    Column("lookup", String(64), primary_key=True, comment="HMAC of the NIK or province key"),
    Column("client_ref", String(64), nullable=False, index=True),
)

# A unit's own record of a person: each unit that registers the same person has its own
# client id and its own sealed copy of what it was told; the person's `client_ref` (the one
# the events carry, for counting people) is shared but never shown to callers.
# The registry's recovery agents: which unit each serves and since when it no longer does, so a
# screener, referrer or reporter is an agent of the case's unit. Learned from `ibm.registry`.
known_agents = Table(
    "known_agents",
    metadata,
    Column("agent_id", String(64), primary_key=True),
    Column("unit_id", String(64), nullable=False),
    Column("deactivated_on", Date, nullable=True),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True, comment="random; never the NIK"),
    Column(
        "client_ref",
        String(64),
        nullable=False,
        index=True,
        comment="the person's random pseudonym, shared by the person's clients in every unit",
    ),
    Column("registered_unit_id", String(64), nullable=False),
    Column("master_key_id", String(40), nullable=True),
    Column(
        "wrapped_data_key",
        LargeBinary,
        nullable=True,
        comment="destroyed on erasure: the identity below becomes unreadable",
    ),
    Column("identity_sealed", LargeBinary, nullable=True),
    Column("age_band", String(8), nullable=True),
    Column("sex", String(10), nullable=True),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("registered_unit_id", "client_ref", name="uq_clients_unit_person"),
)

identity_reads = Table(
    "identity_reads",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("client_id", String(64), ForeignKey("clients.client_id"), nullable=False, index=True),
    Column("actor", String(120), nullable=False, comment="the caller: the token's subject"),
    Column("unit_id", String(64), nullable=True, comment="the caller's unit, for an agent"),
    Column("reason", String(200), nullable=False),
    Column("read_at", DateTime(timezone=True), nullable=False),
    Column("granted", Boolean, nullable=False),
    Column("action", String(10), nullable=False, server_default="read", comment="read or change"),
)

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("client_id", String(64), ForeignKey("clients.client_id"), nullable=False, index=True),
    Column("client_ref", String(64), nullable=False, index=True),
    Column("unit_id", String(64), nullable=False, index=True),
    Column("province_code", String(2), nullable=False, index=True),
    Column("village_code", String(13), nullable=False),
    Column("stage", String(12), nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("risk_level", String(10), nullable=True),
    Column("admission_route", String(12), nullable=True),
    Column("aftercare_source", String(20), nullable=True),
    Column("enrolled_on", Date, nullable=True),
    Column("closed_on", Date, nullable=True),
    Column("outcome", String(20), nullable=True),
    Column("version", Integer, nullable=False),
    # Set when scheduling reports the client missed sessions in a row (drop-out policy);
    # cleared when a session is attended again.
    Column("at_risk_on", Date, nullable=True),
    # Set when a screening finds injecting in the past 3 months: the injecting-risk flag.
    Column("injecting_risk_on", Date, nullable=True),
)

screenings = Table(
    "screenings",
    metadata,
    Column("screening_id", String(64), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("rule_set_version", String(40), nullable=False),
    Column("overall_level", String(10), nullable=False),
    Column("injecting", Boolean, nullable=False),
    Column("scores", JSON, nullable=False),
    Column("screened_at", DateTime(timezone=True), nullable=False),
    Column("screener_agent_id", String(64), nullable=False),
)

referrals = Table(
    "referrals",
    metadata,
    Column("referral_id", String(64), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.case_id"), nullable=False, index=True),
    Column("destination_type", String(24), nullable=False),
    Column("destination_facility", String(64), nullable=True),
    Column("reason", String(30), nullable=False),
    Column("referred_on", Date, nullable=False),
    Column("resolution", String(12), nullable=True),
    Column("resolved_on", Date, nullable=True),
)

# Which referral a province's referral key names, so its resolution and closure find it.
referral_submissions = Table(
    "referral_submissions",
    metadata,
    Column("province_code", String(2), primary_key=True),
    Column("referral_key", String(64), primary_key=True),
    Column("referral_id", String(64), ForeignKey("referrals.referral_id"), nullable=False),
)

# Which case a province's screening submission opened, so its later facts find the case.
submissions = Table(
    "submissions",
    metadata,
    Column("province_code", String(2), primary_key=True),
    Column("submission_id", String(64), primary_key=True),
    Column("case_id", String(64), ForeignKey("cases.case_id"), nullable=False),
)
