"""Durations as people type them on command lines: ``30s``, ``30m``, ``24h``, ``7d``."""

import datetime
import re

_DURATION_RE = re.compile(r"^\s*(\d{1,9})\s*([smhdw])\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> datetime.timedelta:
    """Return the timedelta for ``"30s"``, ``"30m"``, ``"24h"``, ``"7d"`` (or ``"2w"``).

    Raises ValueError for anything else, including zero.
    """
    match = _DURATION_RE.match(value or "")
    if match is None:
        raise ValueError(f"{value!r} is not a duration like 30s, 30m, 24h or 7d")
    amount, unit = int(match.group(1)), match.group(2).lower()
    if amount <= 0:
        raise ValueError(f"{value!r}: a duration must be positive")
    return datetime.timedelta(seconds=amount * _UNIT_SECONDS[unit])
