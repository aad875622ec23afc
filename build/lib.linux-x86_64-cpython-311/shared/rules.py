"""How every service's domain says no: each broken rule names the field and the rule, and all
of them come back at once. Entrypoints turn `RuleViolations` into an RFC 9457 problem document
(HTTP) or an `EventRejected` receipt (Kafka) the same way everywhere. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    field: str | None
    rule: str
    message: str


class RuleViolations(Exception):
    """One or more rules a command broke; each names the field and the rule."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.message}" for v in violations))


def check(violations: list[Violation]) -> None:
    """Raise when any rule was broken."""
    if violations:
        raise RuleViolations(violations)
