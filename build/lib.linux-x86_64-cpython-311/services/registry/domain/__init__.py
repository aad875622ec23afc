"""The registry's rules: regions, units IBM and recovery agents. Plain Python, no frameworks.

Commands come in as plain data; the functions here decide, and either return the new state
(plus the fact to publish) or raise `RuleViolations` naming every broken rule at once, so a
user or a province gets the whole list in one answer.
"""

from services.registry.domain.agents import (
    Agent,
    Training,
    appoint_agent,
    deactivate_agent,
    record_training,
)
from services.registry.domain.errors import AlreadyRecorded, Conflict, NotFound
from services.registry.domain.regions import (
    RegionLevel,
    Scope,
    is_kelurahan,
    level_of,
    level_of_or_none,
    office_region,
    parent_of,
    province_of,
)
from services.registry.domain.units import (
    ALLOWED_STATUS_CHANGES,
    Decree,
    Unit,
    VillageFacts,
    change_status,
    form_unit,
    record_funding,
)

__all__ = [
    "ALLOWED_STATUS_CHANGES",
    "Agent",
    "AlreadyRecorded",
    "Conflict",
    "Decree",
    "NotFound",
    "RegionLevel",
    "Scope",
    "Training",
    "Unit",
    "VillageFacts",
    "appoint_agent",
    "change_status",
    "deactivate_agent",
    "form_unit",
    "is_kelurahan",
    "level_of",
    "level_of_or_none",
    "office_region",
    "parent_of",
    "province_of",
    "record_funding",
    "record_training",
]
