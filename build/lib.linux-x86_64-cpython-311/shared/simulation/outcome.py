"""What the platform answered a province's system: every message gets exactly one receipt, and
`Outcome` counts them and names each broken rule."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Outcome:
    """What the platform answered, by kind of fact."""

    accepted: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    rejected_messages: Counter[str] = field(default_factory=Counter)
    """By type."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Each broken rule, by `<type>: <field> <rule>`."""
    created: dict[str, dict[str, str]] = field(default_factory=dict)
    """By message id: the ids its receipt named."""
    faults: Counter[str] = field(default_factory=Counter)
    """Faults sent on purpose: duplicates, broken bodies, strays (facts of unknown cases)."""
    resent: set[str] = field(default_factory=set)
    """The message ids sent twice on purpose."""
    answers: dict[str, str] = field(default_factory=dict)
    """By message id, the latest answer: accepted, duplicate or rejected."""
    planned: dict[str, str] = field(default_factory=dict)
    """By message id, the answer each fault sent on purpose must get."""
    reasons: dict[str, list[str]] = field(default_factory=dict)
    """By rejected message id, its broken rules as `<field> <rule>`."""
    settled: list[str] = field(default_factory=list)
    """What `unexpected` found when `settle` let go of the answers by message id."""

    def settle(self) -> None:
        """Keep the counts and what was answered otherwise than planned; let go of everything
        kept by message id (a national run sends millions of messages)."""
        self.settled = self.unexpected()
        for by_id in (self.created, self.answers, self.planned, self.reasons):
            by_id.clear()
        self.resent.clear()

    def answered_as_expected(self) -> bool:
        """Each fault got its planned answer, and nothing else was refused. (A duplicate not
        planned is a fact published before, e.g. by an interrupted run: allowed.)"""
        return not self.unexpected()

    def unexpected(self) -> list[str]:
        """Each message answered otherwise than planned: `<id>: <answer>, planned <answer>`
        (a fact not sent as a fault is planned to be accepted or a duplicate)."""
        wrong = [*self.settled]
        wrong += [
            f"{i}: {self.answers.get(i, 'no answer')}, planned {want}"
            for i, want in self.planned.items()
            if self.answers.get(i) != want
        ]
        wrong += [
            f"{i}: rejected ({'; '.join(self.reasons.get(i, []))}), planned accepted"
            for i, answer in self.answers.items()
            if answer == "rejected" and i not in self.planned
        ]
        return wrong

    def summary(self) -> str:
        lines = [f"answered otherwise than planned: {line}" for line in self.unexpected()]
        lines += [
            f"accepted {sum(self.accepted.values())}, "
            f"duplicates {sum(self.duplicates.values())}, "
            f"rejected {sum(self.rejected_messages.values())}"
        ]
        lines += [f"  {kind}: {n}" for kind, n in sorted(self.accepted.items())]
        lines += [f"  refused {why}: {n}" for why, n in sorted(self.rejected.items())]
        if self.faults:
            lines.append(
                "faults sent on purpose: "
                + ", ".join(f"{n} {kind}" for kind, n in sorted(self.faults.items()))
            )
        return "\n".join(lines)
