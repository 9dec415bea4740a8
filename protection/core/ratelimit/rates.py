"""Rate syntax and rate policies: which rates apply to a group and a key.

A rate is ``"count/period"``: ``"10/m"``, ``"100/d"``, ``"5/15m"`` (period
unit s, m, h or d with an optional multiplier). A policy is a mapping
endpoint group -> dimension -> list of rates; the defaults live in
``GATEHOUSE["RATE_LIMITS"]`` and an API key may override single
group/dimension entries in ``ApiKey.rate_limit_overrides`` (same shape).

Dimensions: every group may count ``ip``, ``key``, ``session`` and ``asn``
(the client's AS number); the identity dimensions (``mailbox``,
``email_domain``, ``phone_prefix``, ``device``) only where the endpoint knows
them: ``lookup`` and ``create`` (all four) and ``session`` (``device``), and
any group an app declares with ``rate_limit_dimensions_register``.
"""

import functools
import re
from collections.abc import Collection, Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError

from protection.conf import REGISTERED_SETTINGS, gatehouse_settings, python_setting
from protection.policyfile import PolicyProblem

# What every group may count: who connects (IP, AS number), what calls (key), who (session).
DIMENSIONS = ("ip", "key", "session", "asn")
# Who a request says it is (protection.http.gate: the plan's identities and the
# device): they count what succeeded, not attempts.
IDENTITY_DIMENSIONS = ("mailbox", "email_domain", "phone_prefix", "device")
ALL_DIMENSIONS = DIMENSIONS + IDENTITY_DIMENSIONS
# Budgets shared by clients who do not control each other: their remaining
# count is never shown to a client that was not refused by them.
PRIVATE_DIMENSIONS = frozenset({"asn", *IDENTITY_DIMENSIONS})
# Overrides come with an authenticated key, after the per-IP budget has been
# spent before authentication; an IP override could therefore only add a
# second, separate counter, so overrides are limited to these dimensions.
OVERRIDE_DIMENSIONS = ("key", "session", "asn", *IDENTITY_DIMENSIONS)
# The identity dimensions each group's endpoint can name.
_GROUP_IDENTITIES: dict[str, tuple[str, ...]] = {
    "session": ("device",),
    "lookup": IDENTITY_DIMENSIONS,
    "create": IDENTITY_DIMENSIONS,
}


def rate_limit_dimensions_register(group: str, dimensions: Collection[str]) -> None:
    """Declare that ``group``'s endpoints name these identity dimensions (a
    ``GatePlan.identities``), so ``rate_limits`` may limit them."""
    unknown = set(dimensions) - set(IDENTITY_DIMENSIONS)
    if unknown:
        raise ValueError(f"not identity dimensions: {', '.join(sorted(unknown))}")
    known = _GROUP_IDENTITIES.get(group, ())
    _GROUP_IDENTITIES[group] = known + tuple(d for d in dimensions if d not in known)


def group_dimensions(group: str) -> tuple[str, ...]:
    """The dimensions ``group`` may be limited by."""
    return DIMENSIONS + _GROUP_IDENTITIES.get(group, ())


_RATE_RE = re.compile(r"^(\d{1,9})/(\d{0,6})([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_PERIOD = 366 * 86400


def rate_parse(rate: str) -> tuple[int, int]:
    """Return ``(count, period_seconds)`` for a rate string or raise ValueError."""
    if not isinstance(rate, str):  # e.g. a list in a JSON override: never a 500
        raise ValueError(f"{rate!r} is not a rate like '10/m', '100/d' or '5/15m'")
    return _rate_parse(rate)


@functools.lru_cache(maxsize=256)
def _rate_parse(rate: str) -> tuple[int, int]:
    # Memoised: a request parses each of its rates twice, and rates come from
    # settings and per-key overrides (a few dozen distinct strings).
    match = _RATE_RE.match(rate.strip())
    if match is None:
        raise ValueError(f"{rate!r} is not a rate like '10/m', '100/d' or '5/15m'")
    count, multiplier, unit = match.groups()
    period = _UNIT_SECONDS[unit] * (int(multiplier) if multiplier else 1)
    if period <= 0 or period > MAX_PERIOD:
        raise ValueError(f"{rate!r}: the period must be between 1 second and 366 days")
    return int(count), period


def _rate_limits_problems(
    value: Any, *, dimensions: tuple[str, ...], groups: Collection[str] | None = None
) -> Iterator[tuple[tuple[str, ...], str]]:
    """``(path, what is wrong)`` for a group -> dimension -> [rates] mapping, each
    dimension one of ``dimensions`` that its group may count; with ``groups``,
    a group outside it is a problem too."""
    if not isinstance(value, Mapping):
        yield (), "expected an object: group -> dimension -> list of rates"
        return
    for group, entry in value.items():
        if not isinstance(group, str) or not group or len(group) > 64:
            yield (), f"{group!r}: a group name is a short non-empty string"
            continue
        if groups is not None and group not in groups:
            yield (group,), f"not a rate-limit group (groups: {', '.join(sorted(groups))})"
            continue
        if not isinstance(entry, Mapping):
            yield (group,), "expected an object of dimension -> list of rates"
            continue
        allowed = [name for name in group_dimensions(group) if name in dimensions]
        for dimension, rates in entry.items():
            if dimension not in allowed:
                yield (group, dimension), _not_a_dimension(dimension, group, dimensions)
            elif not isinstance(rates, list):
                yield (group, dimension), "expected a list of rates"
            else:
                for rate in rates:
                    try:
                        rate_parse(rate)
                    except ValueError as exc:
                        yield (group, dimension), str(exc)


def _not_a_dimension(dimension: Any, group: str, dimensions: Collection[str]) -> str:
    """Why ``dimension`` cannot limit ``group`` (``dimensions``: what the setting allows)."""
    allowed = [name for name in group_dimensions(group) if name in dimensions]
    if dimension in dimensions:  # an identity dimension this group's endpoints do not name
        return f"group {group!r} cannot count {dimension!r} (its dimensions: {', '.join(allowed)})"
    return f"unknown dimension (allowed: {', '.join(allowed)})"


def _first_problem(value: Any, dimensions: tuple[str, ...]) -> None:
    for path, message in _rate_limits_problems(value, dimensions=dimensions):
        if not path:
            raise ValidationError(message[0].upper() + message[1:])
        raise ValidationError(f"{'.'.join(path)}: {message}")


def _validate_dimensions(group: str, entry: Any, allowed: tuple[str, ...]) -> None:
    _first_problem({group: entry}, allowed)


def rate_limits_validate(value: Any, *, dimensions: tuple[str, ...] = ALL_DIMENSIONS) -> None:
    """Raise ``ValidationError`` unless ``value`` is group -> dimension -> [rates]."""
    _first_problem(value, dimensions)


def validate_rate_limit_overrides(value: Any) -> None:
    """Model-field validator of ``ApiKey.rate_limit_overrides`` (admin form errors)."""
    if value in (None, ""):
        return
    rate_limits_validate(value, dimensions=OVERRIDE_DIMENSIONS)


def group_rates(group: str, *, api_key: Any = None) -> dict[str, list[str]]:
    """Return dimension -> rates for ``group``, with ``api_key``'s overrides applied.

    An override replaces the default list of its group/dimension; an empty
    list lifts that dimension for the key. A malformed override (written
    around the validator) is ignored rather than failing requests.
    """
    rates = {dim: list(r) for dim, r in (gatehouse_settings.RATE_LIMITS.get(group) or {}).items()}
    overrides = getattr(api_key, "rate_limit_overrides", None) or {}
    entry = overrides.get(group) if isinstance(overrides, Mapping) else None
    if entry:
        try:
            _validate_dimensions(group, entry, OVERRIDE_DIMENSIONS)
        except ValidationError:
            return rates
        rates.update({dim: list(r) for dim, r in entry.items()})
    return rates


# --- validation of settings and policy files (read by protection.checks) --------


def rate_settings_problems() -> list[str]:
    """What is wrong with the rates of the Python settings: ``RATE_LIMITS`` (its
    first problem) and every registered ``*_RATE`` setting, each as
    ``"NAME: problem"``. A policy file's rates are checked on their own."""
    problems = []
    try:
        rate_limits_validate(python_setting("RATE_LIMITS"))
    except ValidationError as exc:
        problems.append(f"RATE_LIMITS: {'; '.join(exc.messages)}")
    for defaults in REGISTERED_SETTINGS.values():
        # A "_RATE" whose default is not a rate string is a ratio (0.2), not a rate.
        rates = (n for n in defaults if n.endswith("_RATE") and isinstance(defaults[n], str))
        for name in sorted(rates):
            try:
                rate_parse(python_setting(name))
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
    return problems


def rate_limits_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """``[rate_limits.<group>]`` tables of a policy file: every group must be one
    of ``base`` (the limits before the file), every dimension one its group may
    count, every rate parse."""
    groups = list(base) if isinstance(base, Mapping) else []
    return [
        PolicyProblem(path, message)
        for path, message in _rate_limits_problems(value, dimensions=ALL_DIMENSIONS, groups=groups)
    ]


def rate_limits_observe_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """``rate_limits_observe`` of a policy file: "group" or "group:dimension" items
    naming limits of ``RATE_LIMITS``."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return [PolicyProblem((), 'expected a list of "group" or "group:dimension"')]
    limits = python_setting("RATE_LIMITS")
    groups = limits if isinstance(limits, Mapping) else {}
    problems = []
    for item in value:
        group, _, dimension = item.partition(":")
        if group not in groups:
            problems.append(
                PolicyProblem(
                    (),
                    f"{item!r}: no group {group!r} in RATE_LIMITS "
                    f"(groups: {', '.join(sorted(groups))})",
                )
            )
        elif dimension and dimension not in group_dimensions(group):
            message = _not_a_dimension(dimension, group, ALL_DIMENSIONS)
            problems.append(PolicyProblem((), f"{item!r}: {message}"))
    return problems


def rate_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """A single rate set by a policy file (``signup_create_ip_rate = "10/d"``)."""
    try:
        rate_parse(value)
    except ValueError as exc:
        return [PolicyProblem((), str(exc))]
    return []
