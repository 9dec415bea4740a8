"""Rate syntax and rate policies: which rates apply to a group and a key.

A rate is ``"count/period"``: ``"10/m"``, ``"100/d"``, ``"5/15m"`` (period
unit s, m, h or d with an optional multiplier). A policy is a mapping
endpoint group -> dimension -> list of rates; the defaults live in
``GATEHOUSE["RATE_LIMITS"]`` and an API key may override single
group/dimension entries in ``ApiKey.rate_limit_overrides`` (same shape).
"""

import functools
import re
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError

from protection.conf import gatehouse_settings

DIMENSIONS = ("ip", "key", "session")
# Overrides come with an authenticated key, after the per-IP budget has been
# spent before authentication; an IP override could therefore only add a
# second, separate counter, so overrides are limited to these dimensions.
OVERRIDE_DIMENSIONS = ("key", "session")
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


def _validate_dimensions(group: str, entry: Any, allowed: tuple[str, ...]) -> None:
    if not isinstance(entry, Mapping):
        raise ValidationError(f"{group}: expected an object of dimension -> list of rates")
    for dimension, rates in entry.items():
        if dimension not in allowed:
            raise ValidationError(
                f"{group}.{dimension}: unknown dimension (allowed: {', '.join(allowed)})"
            )
        if not isinstance(rates, list):
            raise ValidationError(f"{group}.{dimension}: expected a list of rates")
        for rate in rates:
            try:
                rate_parse(rate)
            except ValueError as exc:
                raise ValidationError(f"{group}.{dimension}: {exc}") from exc


def rate_limits_validate(value: Any, *, dimensions: tuple[str, ...] = DIMENSIONS) -> None:
    """Raise ``ValidationError`` unless ``value`` is group -> dimension -> [rates]."""
    if not isinstance(value, Mapping):
        raise ValidationError("Expected an object: group -> dimension -> list of rates")
    for group, entry in value.items():
        if not isinstance(group, str) or not group or len(group) > 64:
            raise ValidationError(f"{group!r}: a group name is a short non-empty string")
        _validate_dimensions(group, entry, dimensions)


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
