"""The gate's verdict on one request: what it decided, how risky the client looks, why.

The gate (``protection.http.gate``) gathers ``RiskSignals`` while it runs
its steps (an observed refusal, and the signals later steps add: network
origin, recent denials, attestation) and ends with a ``Verdict``. Host code
reads it from the request context (``protection.http.context.verdict``);
the policy tier, the sign-up record and webhooks use it. A lookup's answer
never depends on it.
"""

from dataclasses import dataclass, field
from typing import Literal

Action = Literal["allow", "observe", "challenge", "deny"]
ACTIONS: tuple[Action, ...] = ("allow", "observe", "challenge", "deny")


@dataclass(frozen=True)
class Verdict:
    """``action``: allow, observe (a refusal in dry run let it through),
    challenge (more evidence asked), deny. ``risk``: 0 (clean) to 100.
    ``reasons``: the codes behind it, in the order they were found.
    ``step``: the gate step that denied, if it did."""

    action: Action
    risk: int = 0
    reasons: tuple[str, ...] = ()
    step: str = ""


@dataclass
class RiskSignals:
    """What the gate learned about a request so far: reasons and their weights."""

    weights: dict[str, int] = field(default_factory=dict)
    observed: list[str] = field(default_factory=list)

    def add(self, reason: str, weight: int = 0) -> None:
        """Note ``reason``, adding ``weight`` (negative: a positive signal) once."""
        if reason not in self.weights:
            self.weights[reason] = weight

    def weigh(self, reason: str, weight: int) -> None:
        """Give ``reason`` ``weight`` (added if new, replaced if noted before)."""
        self.weights[reason] = weight

    def observe(self, reason: str) -> None:
        """A refusal in observe mode: the request goes on, the verdict says so."""
        self.observed.append(reason)
        self.add(reason)

    @property
    def risk(self) -> int:
        return max(0, min(100, sum(self.weights.values())))

    def verdict(self, action: Action | None = None, *, step: str = "") -> Verdict:
        """The verdict: ``action`` if given, else observe or allow."""
        chosen: Action = action or ("observe" if self.observed else "allow")
        return Verdict(chosen, self.risk, tuple(self.weights), step)
