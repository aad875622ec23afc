"""The units' use cases: forming, status, funding; each decides one command against the
batch's state."""

from __future__ import annotations

from services.registry import domain
from services.registry.commands import (
    ChangeUnitStatus,
    FormUnit,
    RecordFunding,
)
from services.registry.db import (
    unit_funding,
    unit_status_changes,
    units,
)
from services.registry.domain import (
    AlreadyRecorded,
    Scope,
    Unit,
    VillageFacts,
)
from services.registry.handlers.batch import Batch
from shared.contracts import registry as events
from shared.contracts.types import UnitStatus


def form_unit(batch: Batch, index: int, cmd: FormUnit, scope: Scope) -> Unit:
    if cmd.unit_id in batch.units:
        raise AlreadyRecorded("unit_id", "a unit with this id is recorded")
    facts = VillageFacts(
        exists=cmd.village_code in batch.villages,
        active_units=batch.active_units[cmd.village_code],
        office_exists=cmd.facilitating_office in batch.offices,
    )
    unit = domain.form_unit(cmd, facts, scope=scope, today=batch.today)
    funding = f"{unit.unit_id}-{unit.formed_on.year}"
    if cmd.funding_source is not None:
        batch.claim_id("funding", funding, "funding_source")
    batch.units[unit.unit_id] = unit
    batch.active_units[unit.village_code] += 1
    batch.add(
        units,
        unit_id=unit.unit_id,
        village_code=unit.village_code,
        province_code=unit.province_code,
        regency_code=unit.village_code[:5],
        name=unit.name,
        decree_number=unit.decree.number,
        decree_signed_on=unit.decree.signed_on,
        decree_signatory=unit.decree.signatory,
        formed_on=unit.formed_on,
        formation=unit.formation,
        facilitating_office=unit.facilitating_office,
        status=unit.status,
        status_since=unit.status_since,
        version=unit.version,
    )
    batch.events.append(
        (
            index,
            events.UnitFormed(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                unit_name=unit.name,
                formed_on=unit.formed_on,
                decree_number=unit.decree.number,
                decree_date=unit.decree.signed_on,
                formation=unit.formation,
                facilitating_office=unit.facilitating_office,
            ),
        )
    )
    if cmd.funding_source is not None:
        _fund(
            batch,
            index,
            unit,
            RecordFunding(funding, unit.unit_id, unit.formed_on.year, cmd.funding_source, 0),
        )
    return unit


def change_unit_status(batch: Batch, index: int, cmd: ChangeUnitStatus, scope: Scope) -> Unit:
    unit = batch.unit(cmd.unit_id)
    others = batch.active_units[unit.village_code] if cmd.to_status is UnitStatus.ACTIVE else 0
    changed = domain.change_status(
        unit, cmd, scope=scope, today=batch.today, active_units_in_village=others
    )
    batch.active_units[unit.village_code] += (changed.status is UnitStatus.ACTIVE) - (
        unit.status is UnitStatus.ACTIVE
    )
    batch.units[unit.unit_id] = batch.changed_units[unit.unit_id] = changed
    batch.add(
        unit_status_changes,
        unit_id=unit.unit_id,
        from_status=unit.status,
        to_status=changed.status,
        reason=cmd.reason,
        effective_on=cmd.effective_on,
    )
    batch.events.append(
        (
            index,
            events.UnitStatusChanged(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                from_status=unit.status,
                to_status=changed.status,
                reason=cmd.reason,
                effective_on=cmd.effective_on,
            ),
        )
    )
    return changed


def record_funding(batch: Batch, index: int, cmd: RecordFunding, scope: Scope) -> Unit:
    unit = batch.unit(cmd.unit_id)
    domain.record_funding(unit, cmd, scope=scope, today=batch.today)
    batch.claim_id("funding", cmd.funding_id, "funding_id")
    _fund(batch, index, unit, cmd)
    return unit


def _fund(batch: Batch, index: int, unit: Unit, cmd: RecordFunding) -> None:
    batch.add(
        unit_funding,
        funding_id=cmd.funding_id,
        unit_id=unit.unit_id,
        fiscal_year=cmd.fiscal_year,
        source=cmd.source,
        amount_idr=cmd.amount_idr,
    )
    batch.events.append(
        (
            index,
            events.UnitFundingRecorded(
                unit_id=unit.unit_id,
                province_code=unit.province_code,
                village_code=unit.village_code,
                funding_id=cmd.funding_id,
                fiscal_year=cmd.fiscal_year,
                source=cmd.source,
                amount_idr=cmd.amount_idr,
            ),
        )
    )
