"""Risk tiers: what the gate learned about a client, weighed, and the tier it makes.

``RiskInputs`` is what the gate gathers for one request (its network class,
the recent denials of its address and device, the key's pressure, its
velocity, attestation, a returning DPoP key, a Private Access Token).
``risk_points`` weighs them with ``CHALLENGE_RISK_WEIGHTS`` (one table,
settable from the policy file): positive points raise the risk, negative
ones (positive evidence) lower it. The risk is their sum between 0 and 100
(the verdict's), and ``risk_tier`` maps it to ``low``, ``elevated``,
``high`` or ``critical`` with ``CHALLENGE_RISK_THRESHOLDS``. Pure functions:
no query, no cache call.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from protection.conf import gatehouse_settings, setting_default
from protection.keys.ladder import TIERS
from protection.netintel.origin import NETWORK_CLASSES
from protection.policyfile import PolicyProblem

LOW = TIERS[0]
# The weights table's entries: the inputs, and how many denials count.
NETWORK_WEIGHTS = tuple(f"network_{name}" for name in NETWORK_CLASSES)
DENIALS_COUNTED = "denials_counted"
WEIGHT_NAMES = (
    *NETWORK_WEIGHTS,
    "ip_denial",
    "device_denial",
    DENIALS_COUNTED,
    "key_pressure",
    "velocity",
    "attestation_missing",
    "attested",
    "dpop_returning",
    "pat",
)
# Above the lowest tier, in order: the risk each starts at.
THRESHOLD_NAMES = TIERS[1:]


@dataclass(frozen=True)
class RiskInputs:
    """What is known of one client at one stage (challenge or session start).

    ``network_class``: its class, "" when none or when the network policy
    allows it explicitly. Denials: recent ones (``DENIALS_WINDOW``).
    ``velocity``: a per-client limit of the request is nearly spent.
    """

    network_class: str = ""
    ip_denials: int = 0
    device_denials: int = 0
    key_pressure: bool = False
    velocity: bool = False
    attestation_missing: bool = False
    attested: bool = False
    dpop_returning: bool = False
    pat: bool = False


def _table(name: str) -> dict[str, Any]:
    """A weights or thresholds setting over its default (a malformed entry: the default's)."""
    default = dict(setting_default(name))
    configured = getattr(gatehouse_settings, name)
    if isinstance(configured, Mapping):
        for key, value in configured.items():
            if key in default and isinstance(value, int) and not isinstance(value, bool):
                default[key] = value
    return default


def risk_weights() -> dict[str, int]:
    """``CHALLENGE_RISK_WEIGHTS`` in force, every entry present."""
    return _table("CHALLENGE_RISK_WEIGHTS")


def risk_thresholds() -> dict[str, int]:
    """``CHALLENGE_RISK_THRESHOLDS`` in force, every tier above ``low`` present."""
    return _table("CHALLENGE_RISK_THRESHOLDS")


def risk_points(inputs: RiskInputs, *, weights: Mapping[str, int] | None = None) -> dict[str, int]:
    """The points each input present adds (reason -> points; none for a zero weight)."""
    weights = risk_weights() if weights is None else weights
    counted = max(0, int(weights.get(DENIALS_COUNTED, 0)))
    points: dict[str, int] = {}
    if inputs.network_class:
        points[f"network_{inputs.network_class}"] = weights.get(
            f"network_{inputs.network_class}", 0
        )
    for name, denials in (
        ("ip_denial", inputs.ip_denials),
        ("device_denial", inputs.device_denials),
    ):
        if denials > 0:
            points[name + "s"] = weights.get(name, 0) * min(denials, counted)
    for name in ("key_pressure", "velocity", "attestation_missing", "attested", "dpop_returning"):
        if getattr(inputs, name):
            points[name] = weights.get(name, 0)
    if inputs.pat:
        points["pat"] = weights.get("pat", 0)
    return {reason: value for reason, value in points.items() if value}


def risk_score(points: Mapping[str, int]) -> int:
    """The risk of ``points``: their sum, between 0 and 100."""
    return max(0, min(100, sum(points.values())))


def risk_tier(risk: int, *, thresholds: Mapping[str, int] | None = None) -> str:
    """The tier of ``risk``: the highest whose threshold it reaches (``low`` below all)."""
    thresholds = risk_thresholds() if thresholds is None else thresholds
    tier = LOW
    for name in THRESHOLD_NAMES:
        if risk >= int(thresholds.get(name, 101)):
            tier = name
    return tier


def tier_max(*tiers: str) -> str:
    """The highest of ``tiers`` (unknown names count as ``low``)."""
    return max(tiers, key=lambda tier: TIERS.index(tier) if tier in TIERS else 0, default=LOW)


# --- validation (system checks, the policy file) ---------------------------------


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def risk_weights_problems(value: Any) -> list[PolicyProblem]:
    """What is wrong with a weights table (whole or partial)."""
    if not isinstance(value, Mapping):
        return [PolicyProblem((), "expected a table of input -> points")]
    problems = []
    for name, weight in value.items():
        if name not in WEIGHT_NAMES:
            problems.append(
                PolicyProblem(
                    (str(name),), f"unknown risk input: choose from {', '.join(WEIGHT_NAMES)}"
                )
            )
        elif not _whole(weight) or not -100 <= weight <= 100:
            problems.append(
                PolicyProblem((str(name),), f"{weight!r} is not a whole number in -100..100")
            )
        elif name == DENIALS_COUNTED and weight < 0:
            problems.append(PolicyProblem((name,), "how many denials count cannot be negative"))
    return problems


def risk_thresholds_problems(value: Any, *, base: Any = None) -> list[PolicyProblem]:
    """What is wrong with a thresholds table; ``base``: what a partial one merges over."""
    if not isinstance(value, Mapping):
        return [PolicyProblem((), "expected a table of tier -> risk (elevated, high, critical)")]
    problems = []
    for name, threshold in value.items():
        if name not in THRESHOLD_NAMES:
            problems.append(
                PolicyProblem(
                    (str(name),), f"unknown tier: choose from {', '.join(THRESHOLD_NAMES)}"
                )
            )
        elif not _whole(threshold) or not 1 <= threshold <= 101:
            problems.append(
                PolicyProblem((str(name),), f"{threshold!r} is not a whole number in 1..101")
            )
    if problems:
        return problems
    merged = {**(base if isinstance(base, Mapping) else {}), **value}
    levels: list[int] = [merged[name] for name in THRESHOLD_NAMES if _whole(merged.get(name))]
    if len(levels) == len(THRESHOLD_NAMES) and levels != sorted(levels):
        problems.append(
            PolicyProblem((), "thresholds must not decrease: elevated <= high <= critical")
        )
    return problems


def risk_weights_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """The ``[challenge_risk_weights]`` table of a policy file (merged over ``base``)."""
    return risk_weights_problems(value)


def risk_thresholds_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """The ``[challenge_risk_thresholds]`` table of a policy file (merged over ``base``)."""
    return risk_thresholds_problems(value, base=base)
