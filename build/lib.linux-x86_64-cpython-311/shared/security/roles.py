"""Who is calling, and where they may act.

Roles travel in the `roles` claim of the caller's bearer token (`shared.security.tokens`),
which the gateway and every service verify; each service checks the scope of every request.
Roles: `national-operator`, `province-operator:<prov>`, `district-operator:<regency>`,
`unit-agent:<unit-id>`, `reporting-consumer`, `province-system:<prov>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from shared.regions import PROVINCE_CODES


class Role(StrEnum):
    NATIONAL_OPERATOR = "national-operator"
    PROVINCE_OPERATOR = "province-operator"
    DISTRICT_OPERATOR = "district-operator"
    UNIT_AGENT = "unit-agent"
    REPORTING_CONSUMER = "reporting-consumer"
    PROVINCE_SYSTEM = "province-system"
    """A province's information system: ingests its facts and reads its receipts, nothing else."""


@dataclass(frozen=True)
class Grant:
    role: Role
    target: str | None  # province code, regency code or unit id; None for national roles


class NotAuthenticated(Exception):
    pass


class Forbidden(Exception):
    """The caller is known but the request is outside their role or scope."""


def parse_grants(items: Iterable[str]) -> list[Grant]:
    """`role[:scope]` strings (a token's `roles` claim) as grants; raise `NotAuthenticated`
    when one is malformed: an unknown role, a missing or extra scope, or a scope that names no
    real province, regency or unit."""
    grants = []
    for item in items:
        name, _, target = item.strip().partition(":")
        try:
            role = Role(name)
        except ValueError:
            raise NotAuthenticated(f"unknown role {name!r}") from None
        scoped = role in _SCOPES
        if scoped != bool(target):
            raise NotAuthenticated(f"role {name!r} {'needs' if scoped else 'takes no'} a scope")
        if scoped and not _SCOPES[role](target):
            raise NotAuthenticated(f"role {name!r} needs {_SCOPE_NAMES[role]}")
        grants.append(Grant(role, target or None))
    return grants


_SCOPES = {
    Role.PROVINCE_OPERATOR: lambda t: t in PROVINCE_CODES,
    Role.PROVINCE_SYSTEM: lambda t: t in PROVINCE_CODES,
    Role.DISTRICT_OPERATOR: lambda t: (
        bool(re.fullmatch(r"\d{2}\.\d{2}", t)) and t[:2] in PROVINCE_CODES
    ),
    Role.UNIT_AGENT: lambda t: bool(re.fullmatch(r"[0-9A-Za-z-]{16,64}", t)),
}
_SCOPE_NAMES = {
    Role.PROVINCE_OPERATOR: "a province code, e.g. 74",
    Role.PROVINCE_SYSTEM: "a province code, e.g. 74",
    Role.DISTRICT_OPERATOR: "a regency code, e.g. 74.71",
    Role.UNIT_AGENT: "a unit id",
}


@dataclass(frozen=True)
class Caller:
    """Who is asking, from their verified token, read once per request: the subject (for
    audits) and where each of their roles lets them act. Every service's routes take this
    (`shared.dependencies.CallerDep`, `PersonDep`); their own rules ask it questions."""

    subject: str
    grants: tuple[Grant, ...]
    national: bool
    """A national operator: acts everywhere."""
    reads_everywhere: bool
    """A national operator or a reporting consumer: reads every region's figures."""
    regions: tuple[str, ...]
    """The provinces and regencies the caller operates (province and district operators)."""
    units: tuple[str, ...]
    """The units the caller is an agent of."""
    provinces: tuple[str, ...]
    """The provinces whose information system the caller is (ingest and receipts only)."""

    @classmethod
    def of(cls, subject: str, grants: Iterable[Grant]) -> Caller:
        grants = tuple(grants)

        def targets(*roles: Role) -> tuple[str, ...]:
            return tuple(g.target for g in grants if g.target and g.role in roles)

        roles = {g.role for g in grants}
        return cls(
            subject=subject,
            grants=grants,
            national=Role.NATIONAL_OPERATOR in roles,
            reads_everywhere=bool(roles & {Role.NATIONAL_OPERATOR, Role.REPORTING_CONSUMER}),
            regions=targets(Role.PROVINCE_OPERATOR, Role.DISTRICT_OPERATOR),
            units=targets(Role.UNIT_AGENT),
            provinces=targets(Role.PROVINCE_SYSTEM),
        )

    @property
    def roles(self) -> set[Role]:
        return {g.role for g in self.grants}

    @property
    def is_person(self) -> bool:
        """Any role but a provincial system's (a system ingests and reads its receipts)."""
        return any(g.role is not Role.PROVINCE_SYSTEM for g in self.grants)

    def oversees(self, village_code: str) -> bool:
        """A national operator, or an operator of a province or regency the village is in."""
        return self.national or any(village_code.startswith(f"{r}.") for r in self.regions)

    def works_in(
        self, unit_id: str, refusal: str = "only an agent of this unit may do this"
    ) -> None:
        """Raise `Forbidden` (with `refusal`) unless the caller is an agent of the unit."""
        if unit_id not in self.units:
            raise Forbidden(refusal)
