"""Atomic counters: django-ratelimit's ``get_usage`` over the shared cache,
with a per-process fallback when the cache fails.

With Django's ``RedisCache`` a hit is ``ADD`` (first hit of a window) or
``INCR`` (every later one): atomic on the server, so N workers on M hosts
admit exactly ``limit`` hits per window. Counter keys are keyed digests of
group and identity: bounded, opaque, and an empty identity gets its own
bucket (never one shared with real identities).

When the cache raises or times out, ``RATE_LIMIT_CACHE_FAILURE`` decides:
``"local"`` counts in this process with the same rates and windows (strict
per process; the whole deployment may admit up to workers x limit) and
records one ``cache_unavailable`` alert per process per minute; ``"closed"``
refuses with 503 ``service_unavailable``. After a failure the cache is left
alone for ``RATE_LIMIT_CACHE_RETRY_AFTER`` seconds.
"""

import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django_ratelimit.core import get_usage

from protection import crypto
from protection.conf import gatehouse_settings
from protection.exceptions import ProtectionError
from protection.ratelimit.rates import rate_parse

logger = logging.getLogger("gatehouse.ratelimit")

OUTAGE_EVENT_INTERVAL = 60.0


@dataclass(frozen=True)
class RateLimitResult:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the current window ends
    period: int = 0  # window length in seconds
    count: int = 0  # hits counted in this window, this one included


def counter_ident(group: str, ident: Any) -> str:
    """Keyed digest naming the bucket of ``ident`` in ``group`` (bounded, opaque).

    Length-prefixed so no (group, ident) pair can be spelled as another; an
    empty identity maps to its own "empty" bucket per group.
    """
    text = "" if ident is None else str(ident)
    tagged = f"{len(group)}:{group}|" + ("E|" if text == "" else "V|" + text)
    return crypto.keyed_digest(tagged, purpose="ratelimit")


class _CacheHealth:
    """Per-process memory of cache failures: skip a failing cache for a while."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.last_event = -OUTAGE_EVENT_INTERVAL
        self.lock = threading.Lock()

    def is_down(self, now: float) -> bool:
        return now < self.down_until

    def mark_down(self, now: float) -> bool:
        """Remember the failure; return True if an outage event is due."""
        with self.lock:
            self.down_until = now + float(gatehouse_settings.RATE_LIMIT_CACHE_RETRY_AFTER)
            if now - self.last_event >= OUTAGE_EVENT_INTERVAL:
                self.last_event = now
                return True
        return False

    def reset(self) -> None:
        self.down_until = 0.0
        self.last_event = -OUTAGE_EVENT_INTERVAL


class _LocalCounters:
    """Fixed-window counters in this process, same windows as django-ratelimit."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], tuple[int, int]] = {}
        self.lock = threading.Lock()

    def hit(self, bucket: str, rate: str, increment: bool, now: float) -> tuple[int, int]:
        limit, period = rate_parse(rate)
        ts = int(now)
        window = ts - ts % period + zlib.crc32(bucket.encode()) % period
        if window < ts:
            window += period
        with self.lock:
            if len(self.counts) > 100_000:  # bound memory under an address sweep
                self.counts = {k: v for k, v in self.counts.items() if v[1] >= ts}
            key = (bucket, rate, period)
            count, end = self.counts.get(key, (0, window))
            if end != window:
                count = 0
            count += 1 if increment else 0
            self.counts[key] = (count, window)
        return count, max(0, window - ts)

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()


cache_health = _CacheHealth()
local_counters = _LocalCounters()
clock: Callable[[], float] = time.time


def _record_outage(error: Exception) -> None:
    from protection.events import event_record  # events imports this package's users

    try:
        event_record(
            kind="cache_unavailable",
            decision="alert",
            reason=f"rate_limit_{gatehouse_settings.RATE_LIMIT_CACHE_FAILURE}",
            details={"error": type(error).__name__},
        )
    except Exception:  # the audit log must not turn an outage into a 500
        logger.exception("Could not record the cache outage")


def cache_failed(error: Exception) -> None:
    """Mark the shared cache down for a while; record the outage (once a minute)."""
    logger.warning("Rate-limit cache unavailable: %s", type(error).__name__)
    if cache_health.mark_down(time.monotonic()):
        _record_outage(error)


def _fallback(bucket: str, rate: str, increment: bool) -> RateLimitResult:
    if gatehouse_settings.RATE_LIMIT_CACHE_FAILURE == "closed":
        raise ProtectionError("service_unavailable", headers={"Retry-After": "5"})
    limit, period = rate_parse(rate)
    count, time_left = local_counters.hit(bucket, rate, increment, clock())
    return RateLimitResult(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=max(1, time_left),
        period=period,
        count=count,
    )


def _shared_usage(group: str, bucket: str, rate: str, increment: bool) -> dict | None:
    usage = get_usage(
        None, group=group, key=lambda _group, _request: bucket, rate=rate, increment=increment
    )
    if usage is not None and usage["time_left"] == -1 and usage["count"] == 0:
        # INCR lost a race with the window's expiry: the next call ADDs afresh.
        usage = get_usage(
            None, group=group, key=lambda _group, _request: bucket, rate=rate, increment=increment
        )
    return usage


def rate_limit_hit(*, group: str, ident: str, rate: str, increment: bool = True) -> RateLimitResult:
    """Count one hit of ``ident`` in ``group`` against ``rate`` (atomic, shared)."""
    limit, period = rate_parse(rate)
    bucket = counter_ident(group, ident)
    if cache_health.is_down(time.monotonic()):
        return _fallback(bucket, rate, increment)
    try:
        usage = _shared_usage(group, bucket, rate, increment)
    except Exception as exc:  # any cache client error: connection, timeout, protocol
        cache_failed(exc)
        return _fallback(bucket, rate, increment)
    if usage is None:  # rate limiting disabled (RATELIMIT_ENABLE=False)
        return RateLimitResult(True, limit, limit, period, period, 0)
    count = int(usage["count"])
    if usage["time_left"] == -1 and count == 0:  # the cache answered nonsense twice
        cache_failed(RuntimeError("counter unavailable"))
        return _fallback(bucket, rate, increment)
    return RateLimitResult(
        allowed=not usage["should_limit"],
        limit=limit,
        remaining=max(0, limit - count),
        reset_after=max(1, int(usage["time_left"])),
        period=period,
        count=count,
    )


def rate_limit_distinct_hit(*, group: str, ident: str, member: str, rate: str) -> RateLimitResult:
    """Count ``member`` once per window among the distinct members seen for ``ident``.

    E.g. distinct identifiers looked up per client IP: the same identifier
    again does not count twice, a new one does.
    """
    _limit, period = rate_parse(rate)
    member_key = "gh:distinct:" + crypto.keyed_digest(
        f"{counter_ident(group, ident)}|{member}|{rate}", purpose="ratelimit"
    )
    is_new = True
    if not cache_health.is_down(time.monotonic()):
        try:
            is_new = cache.add(member_key, 1, timeout=period)
        except Exception as exc:  # the counter below falls back on its own
            cache_failed(exc)
    return rate_limit_hit(group=f"{group}:distinct", ident=ident, rate=rate, increment=is_new)
