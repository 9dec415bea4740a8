"""One circuit breaker for every use of the shared cache (Redis in production).

When a cache call raises or times out, ``cache_failed`` marks the cache down
for ``RATE_LIMIT_CACHE_RETRY_AFTER`` seconds: until then every user of the
cache (counters, denial counters, the difficulty boost, the issuance count,
session revocation marks) skips it and answers by its documented fallback at
once, so a black-holed Redis costs each process one timeout per pause, not
one per call. ``shared_cache_call`` wraps a call in that policy.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings
from protection.core.metrics import metrics_cache_fallback

logger = logging.getLogger("gatehouse.cache")

OUTAGE_EVENT_INTERVAL = 60.0
T = TypeVar("T")


class _CacheHealth:
    """Per-process memory of cache failures: skip a failing cache for a while."""

    def __init__(self) -> None:
        self.down_until = 0.0
        self.last_event = -OUTAGE_EVENT_INTERVAL
        self.lock = threading.Lock()
        self.listeners: list[Callable[[Exception], None]] = []

    def is_down(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
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


cache_health = _CacheHealth()
process_state_register("cache health", cache_health.reset)


def cache_failed(error: Exception) -> None:
    """Mark the shared cache down for a while; tell the listeners (once a minute)."""
    logger.warning("Shared cache unavailable: %s", type(error).__name__)
    if cache_health.mark_down(time.monotonic()):
        for listener in list(cache_health.listeners):
            try:
                listener(error)
            except Exception:  # an outage report must not turn into a 500
                logger.exception("Could not report the cache outage")


def shared_cache_call(call: Callable[[], T], default: T) -> T:
    """Run ``call`` against the shared cache, or return ``default`` while it is down."""
    if cache_health.is_down():
        return default
    try:
        return call()
    except Exception as exc:  # any cache client error: connection, timeout, protocol
        cache_failed(exc)
        return default
