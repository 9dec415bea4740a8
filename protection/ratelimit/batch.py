"""Opt-in (``RATE_LIMIT_BATCH``): all counters of one request in one Redis round trip.

``get_usage`` costs three round trips per counter with Django's
``RedisCache`` (SET NX, then EXISTS + INCR). This path counts in exactly
the same buckets (django-ratelimit's own ``_make_cache_key`` and
``_get_window``, the same TTL) but sends every counter of a request in one
pipeline, each as an atomic Lua ``INCR`` that sets the TTL on the first
hit. Both paths can run side by side: they read and write the same keys.
Only used with Django's ``RedisCache``; anything else goes through
``get_usage``.
"""

import time
from collections.abc import Sequence

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django_ratelimit.core import ALL, EXPIRATION_FUDGE, _get_window, _make_cache_key

from protection.conf import gatehouse_settings
from protection.ratelimit.counters import RateLimitResult, counter_ident
from protection.ratelimit.rates import rate_parse

_INCR_WITH_TTL = (
    "local count = redis.call('INCR', KEYS[1]) "
    "if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end "
    "return count"
)
_scripts: dict[int, object] = {}


def _cache() -> RedisCache | None:
    cache = caches[getattr(settings, "RATELIMIT_USE_CACHE", "default")]
    return cache if isinstance(cache, RedisCache) else None


def batch_available() -> bool:
    """True when the setting is on and the rate-limit cache is Django's RedisCache."""
    return bool(gatehouse_settings.RATE_LIMIT_BATCH) and _cache() is not None


def rate_limit_hit_many(items: Sequence[tuple[str, str, str]]) -> list[RateLimitResult]:
    """Count one hit for each ``(group, ident, rate)`` in one round trip.

    Raises whatever the Redis client raises; callers fall back as for
    ``rate_limit_hit``.
    """
    cache = _cache()
    assert cache is not None
    client = cache._cache.get_client(None, write=True)
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_INCR_WITH_TTL)
    pipe = client.pipeline(transaction=False)
    windows = []
    for group, ident, rate in items:
        limit, period = rate_parse(rate)
        bucket = counter_ident(group, ident)
        window = _get_window(bucket, period)
        key = cache.make_and_validate_key(_make_cache_key(group, window, rate, bucket, ALL))
        script(keys=[key], args=[period + EXPIRATION_FUDGE], client=pipe)
        windows.append((limit, period, window))
    counts = pipe.execute()
    now = int(time.time())
    return [
        RateLimitResult(
            allowed=count <= limit,
            limit=limit,
            remaining=max(0, limit - count),
            reset_after=max(1, window - now),
            period=period,
            count=int(count),
        )
        for count, (limit, period, window) in zip(counts, windows, strict=True)
    ]
