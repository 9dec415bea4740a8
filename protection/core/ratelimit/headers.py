"""IETF RateLimit header fields, draft-ietf-httpapi-ratelimit-headers-10.

``RateLimit-Policy`` lists every quota policy that applied to the request and
``RateLimit`` the remaining quota of each, both as Structured Field lists of
policy-name strings with parameters::

    RateLimit-Policy: "ip-1m";q=30;w=60, "ip-1d";q=500;w=86400
    RateLimit: "ip-1m";r=29;t=42, "ip-1d";r=499;t=80000

``q`` quota, ``w`` window (seconds), ``r`` remaining, ``t`` seconds to reset.
A private limit (per AS number, per identity) is listed only when it refused.
"""

from collections.abc import Iterable
from typing import NamedTuple

from protection.core.ratelimit.counters import RateLimitResult


class CountedLimit(NamedTuple):
    dimension: str
    rate: str
    result: RateLimitResult
    # Shown in the RateLimit fields only once it refused the request: its
    # remaining budget tells of other people (every client of an AS, everyone
    # who signed up with an inbox), which a client must not read off its answers.
    private: bool = False
    observed: bool = False  # counted, never refusing (RATE_LIMITS_OBSERVE)


def _window_label(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def ratelimit_headers(counted: Iterable[CountedLimit]) -> dict[str, str]:
    """Return the RateLimit-Policy and RateLimit headers for the counted limits."""
    policies: list[str] = []
    states: list[str] = []
    seen: set[str] = set()
    for item in counted:
        if item.private and (item.result.allowed or item.observed):
            continue
        name = f"{item.dimension}-{_window_label(item.result.period)}"
        suffix = 2
        while name in seen:  # two rates with the same window on one dimension
            name = f"{item.dimension}-{_window_label(item.result.period)}-{suffix}"
            suffix += 1
        seen.add(name)
        result = item.result
        policies.append(f'"{name}";q={result.limit};w={result.period}')
        states.append(f'"{name}";r={result.remaining};t={result.reset_after}')
    if not policies:
        return {}
    return {"RateLimit-Policy": ", ".join(policies), "RateLimit": ", ".join(states)}
