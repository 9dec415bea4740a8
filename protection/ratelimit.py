"""Rate limits on django-ratelimit's atomic cache counters (Redis in production).

A rate is "count/period" ("10/m", "100/d", "5/2h"). ``rate_limit_hit`` counts
one hit of ``ident`` in ``group`` and says whether it is within the rate;
``rate_limit_enforce`` does so for several rates and raises ``rate_limited``.
Counter keys are keyed digests of the identifier: bounded and opaque.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.cache import cache
from django_ratelimit.core import _split_rate, get_usage

from protection import crypto
from protection.exceptions import ProtectionError


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the current window ends


def rate_limit_hit(*, group: str, ident: str, rate: str, increment: bool = True) -> RateLimitResult:
    """Count one hit of ``ident`` in ``group`` against ``rate`` (atomic)."""
    if not ident:
        raise ValueError("A rate-limit identity must not be empty")
    digest = crypto.keyed_digest(f"{group}\x00{ident}", purpose="ratelimit")
    usage = get_usage(
        None, group=group, key=lambda _group, _request: digest, rate=rate, increment=increment
    )
    if usage is None:  # rate limiting disabled (RATELIMIT_ENABLE=False)
        return RateLimitResult(True, 0, 0, 0)
    limit = usage["limit"]
    return RateLimitResult(
        allowed=not usage["should_limit"],
        limit=limit,
        remaining=max(0, limit - usage["count"]),
        reset_after=max(1, usage["time_left"]),
    )


def rate_limit_enforce(*, group: str, ident: str, rates: Sequence[str]) -> None:
    """Count a hit against every rate; raise ``rate_limited`` if any is exceeded."""
    refused = [
        result
        for result in (rate_limit_hit(group=group, ident=ident, rate=rate) for rate in rates)
        if not result.allowed
    ]
    if refused:
        wait = max(result.reset_after for result in refused)
        raise ProtectionError("rate_limited", headers={"Retry-After": str(math.ceil(wait))})


def rate_limit_distinct_hit(*, group: str, ident: str, member: str, rate: str) -> RateLimitResult:
    """Count ``member`` once per window among the distinct members seen for ``ident``.

    E.g. distinct identifiers looked up per client IP: the same identifier
    again does not count twice, a new one does.
    """
    limit, period = _split_rate(rate)
    member_key = "gh:distinct:" + crypto.keyed_digest(
        f"{group}\x00{ident}\x00{member}\x00{rate}", purpose="ratelimit"
    )
    is_new = cache.add(member_key, 1, timeout=period)
    return rate_limit_hit(group=f"{group}:distinct", ident=ident, rate=rate, increment=is_new)
