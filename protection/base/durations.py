"""Human durations for command flags: ``30s``, ``30m``, ``24h``, ``7d``, ``2w``."""

import datetime
import re

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DURATION = re.compile(r"(\d{1,6})([smhdw])")
MAX_DURATION = datetime.timedelta(days=3653)


def parse_duration(text: str) -> datetime.timedelta:
    """Return the timedelta for ``<number><unit>`` (units s, m, h, d, w).

    Raises ValueError with a one-line message for anything else (no sign, no
    fractions, no bare numbers: ``30`` is ambiguous between seconds and days).
    """
    match = _DURATION.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"Invalid duration {text!r}: use a number and a unit, e.g. 30s, 30m, 24h, 7d"
        )
    number, unit = match.groups()
    duration = datetime.timedelta(**{_UNITS[unit]: int(number)})
    if duration > MAX_DURATION:
        # Beyond this, expiry dates overflow; "permanent" is said by omitting the flag.
        raise ValueError(f"Invalid duration {text!r}: at most 10 years")
    return duration


def format_duration(seconds: float) -> str:
    """``seconds`` in its largest whole unit, rounded down: ``14d``, ``3h``, ``45m``, ``30s``."""
    whole = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole >= size:
            return f"{whole // size}{unit}"
    return f"{whole}s"
