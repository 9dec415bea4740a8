"""The per-process side of the limiter: memory of cache failures and local counters.

When the shared cache raises or times out, ``protection.core.cachehealth`` marks
it down for ``RATE_LIMIT_CACHE_RETRY_AFTER`` seconds (so a slow Redis costs
one timeout, not one per hit) and ``record_outage`` writes one
``cache_unavailable`` alert per process per minute; meanwhile
``local_counters`` count with the same rates and windows as the shared
buckets (strict per process).
"""

import logging
import threading
import time
import zlib
from collections.abc import Callable

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.cachehealth import cache_failed, cache_health
from protection.core.events import event_record
from protection.core.ratelimit.rates import rate_parse

__all__ = ["cache_failed", "cache_health", "clock", "local_counters", "record_outage"]

logger = logging.getLogger("gatehouse.ratelimit")


class _LocalCounters:
    """Fixed-window counters in this process, same windows as django-ratelimit."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], tuple[int, int]] = {}
        self.lock = threading.Lock()

    def hit(
        self, bucket: str, rate: str, increment: bool, now: float, *, conditional: bool = False
    ) -> tuple[int, int, int]:
        """(count, seconds left, window end) of ``bucket`` after this hit.

        ``conditional``: increment only if the count stays within the limit;
        over it, the count reads limit + 1 and nothing changes.
        """
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
            if conditional and count + 1 > limit:
                return limit + 1, max(0, window - ts), window
            count += 1 if increment else 0
            self.counts[key] = (count, window)
        return count, max(0, window - ts), window

    def refund(self, bucket: str, rate: str, window: int) -> None:
        """Take back one hit counted in ``window`` (nothing once that window ended)."""
        _limit, period = rate_parse(rate)
        with self.lock:
            count, end = self.counts.get((bucket, rate, period), (0, 0))
            if end == window and count > 0:
                self.counts[(bucket, rate, period)] = (count - 1, end)

    def clear(self) -> None:
        with self.lock:
            self.counts.clear()


local_counters = _LocalCounters()
process_state_register("local counters", local_counters.clear)
clock: Callable[[], float] = time.time


def record_outage(error: Exception) -> None:
    """Write the ``cache_unavailable`` alert (a ``cache_health`` listener)."""
    try:
        event_record(
            kind="cache_unavailable",
            decision="alert",
            reason=f"rate_limit_{gatehouse_settings.RATE_LIMIT_CACHE_FAILURE}",
            details={"error": type(error).__name__},
        )
    except Exception:  # the audit log must not turn an outage into a 500
        logger.exception("Could not record the cache outage")
