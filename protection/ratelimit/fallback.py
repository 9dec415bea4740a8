"""The per-process side of the limiter: memory of cache failures and local counters.

When the shared cache raises or times out, ``cache_failed`` marks it down
for ``RATE_LIMIT_CACHE_RETRY_AFTER`` seconds (so a slow Redis costs one
timeout, not one per hit) and records one ``cache_unavailable`` alert per
process per minute; meanwhile ``local_counters`` count with the same rates
and windows as the shared buckets (strict per process).
"""

import logging
import threading
import time
import zlib
from collections.abc import Callable

from protection.conf import gatehouse_settings
from protection.metrics import metrics_cache_fallback
from protection.ratelimit.rates import rate_parse

logger = logging.getLogger("gatehouse.ratelimit")

OUTAGE_EVENT_INTERVAL = 60.0


class _CacheHealth:
    """Per-process memory of cache failures: skip a failing cache for a while."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.last_event = -OUTAGE_EVENT_INTERVAL
        self.lock = threading.Lock()

    def is_down(self, now: float) -> bool:
        if now < self.down_until:
            return True
        if self.down_until:  # the pause is over: the cache is tried again
            with self.lock:  # unless another thread marked it down meanwhile
                ended = bool(self.down_until) and now >= self.down_until
                if ended:
                    self.down_until = 0.0
            if ended:
                metrics_cache_fallback(active=False)
        return False

    def mark_down(self, now: float) -> bool:
        """Remember the failure; return True if an outage event is due."""
        metrics_cache_fallback(active=True)
        with self.lock:
            self.down_until = now + float(gatehouse_settings.RATE_LIMIT_CACHE_RETRY_AFTER)
            if now - self.last_event >= OUTAGE_EVENT_INTERVAL:
                self.last_event = now
                return True
        return False

    def reset(self) -> None:
        self.down_until = 0.0
        metrics_cache_fallback(active=False)
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
