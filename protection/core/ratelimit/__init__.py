"""Rate limits on django-ratelimit's atomic cache counters (Redis in production).

The buckets are django-ratelimit's (``get_usage`` with ``increment``: fixed
windows, its cache keys and TTLs). With any cache but Redis they are counted
by ``get_usage`` itself; on Redis the same buckets are counted by one Lua
script per request step (``batch``), because ``get_usage`` costs three
round trips per counter there and a protected lookup has about six: that
was most of a lookup's time. The script is as atomic as ``INCR``.

One limiter for the whole app: ``counters`` (atomic shared counters),
``batch`` (the Redis script), ``slots`` (on a Redis Cluster: one script per
hash slot, in one pipeline), ``fallback`` (per-process counters and the
local counters), ``rates`` (rate syntax, defaults and per-key overrides),
``headers`` (IETF RateLimit fields), ``requestlimits`` (a request's
limits, counted in one round trip, and the 429) and ``deferred`` (counts
that reactions ask for during a request, which ride its round trip). The
gate (``protection.http.gate``) decides what the counts mean.
"""

from protection.core.ratelimit.counters import (
    Claim,
    Hit,
    Item,
    Quota,
    RateLimitResult,
    Refund,
    Tally,
    counter_ident,
    rate_limit_distinct_hit,
    rate_limit_hit,
    rate_limit_hit_many,
    rate_limit_read_and_hit,
)
from protection.core.ratelimit.deferred import count_soon, counts_deferred
from protection.core.ratelimit.headers import CountedLimit, ratelimit_headers
from protection.core.ratelimit.rates import (
    IDENTITY_DIMENSIONS,
    group_dimensions,
    group_rates,
    rate_limit_dimensions_register,
    rate_limits_validate,
    rate_parse,
    validate_rate_limit_overrides,
)
from protection.core.ratelimit.requestlimits import (
    Counted,
    LimitEntry,
    RequestLimits,
    observed_dimensions,
    rate_limit_count_many,
    rate_limit_enforce,
    rate_limit_reason,
    rate_limit_refusal,
    request_limits_count,
)

__all__ = [
    "IDENTITY_DIMENSIONS",
    "Claim",
    "Counted",
    "CountedLimit",
    "Hit",
    "Item",
    "LimitEntry",
    "Quota",
    "RateLimitResult",
    "Refund",
    "RequestLimits",
    "Tally",
    "count_soon",
    "counter_ident",
    "counts_deferred",
    "group_dimensions",
    "group_rates",
    "observed_dimensions",
    "rate_limit_count_many",
    "rate_limit_dimensions_register",
    "rate_limit_distinct_hit",
    "rate_limit_enforce",
    "rate_limit_hit",
    "rate_limit_hit_many",
    "rate_limit_read_and_hit",
    "rate_limit_reason",
    "rate_limit_refusal",
    "rate_limits_validate",
    "rate_parse",
    "ratelimit_headers",
    "request_limits_count",
    "validate_rate_limit_overrides",
]
