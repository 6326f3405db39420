"""Rules and policies: the machinery, independent of any particular phase enum."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


class Decision(enum.Enum):
    ACCEPT = "accept"
    DUPLICATE = "duplicate"
    REJECT_TERMINAL = "reject_terminal"
    REJECT_INVALID = "reject_invalid"


@dataclass(frozen=True)
class Transition:
    """A requested move; versions distinguish repeated events of the same phase (task ``phase_version``)."""

    from_phase: int
    to_phase: int
    from_version: int = 0
    to_version: int = 0


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    rule: str
    reason: str

    @property
    def accepted(self) -> bool:
        return self.decision is Decision.ACCEPT


@dataclass(frozen=True)
class Rule:
    """Governs the (from, to) pairs in ``from_phases`` x ``to_phases`` (None: any), narrowed by ``when``."""

    name: str
    decision: Decision
    reason: str
    from_phases: frozenset[int] | None = None
    to_phases: frozenset[int] | None = None
    when: Callable[[Transition], bool] = field(default=lambda _: True)

    def governs(self, transition: Transition) -> bool:
        return (
            (self.from_phases is None or transition.from_phase in self.from_phases)
            and (self.to_phases is None or transition.to_phase in self.to_phases)
            and self.when(transition)
        )


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[Rule, ...]
    terminal: frozenset[int]
    phase_name: Callable[[int], str]

    def evaluate(self, transition: Transition) -> Verdict:
        for rule in self.rules:
            if rule.governs(transition):
                reason = rule.reason.format(
                    frm=self.phase_name(transition.from_phase), to=self.phase_name(transition.to_phase)
                )
                return Verdict(rule.decision, rule.name, reason)
        return Verdict(Decision.ACCEPT, "default", "accepted")

    def is_terminal(self, phase: int) -> bool:
        return phase in self.terminal


def phases(values: Iterable[int]) -> frozenset[int]:
    return frozenset(values)
