"""The one module that uses django-ratelimit's private helpers.

``batch`` counts django-ratelimit's own buckets in one Redis script, so it
must compute exactly the keys and windows ``get_usage`` would:
``_get_window`` (the end of the current fixed window, jittered per bucket)
and ``_make_cache_key`` (the cache key of one bucket and window), plus the
``EXPIRATION_FUDGE`` added to every TTL. They are private, so an upgrade may
change them without notice; ``tests/protection/core/ratelimit/test_upstream.py``
pins their signatures and their output on known inputs and fails loudly if
they move. Everything else uses the public ``get_usage`` through here too,
so the version pin in pyproject.toml has one reason and one place.
"""

from django_ratelimit import ALL
from django_ratelimit.core import EXPIRATION_FUDGE, _get_window, _make_cache_key, get_usage

__all__ = ["TTL_FUDGE", "bucket_cache_key", "bucket_window_end", "get_usage"]

# Seconds django-ratelimit adds to a bucket's TTL beyond its period.
TTL_FUDGE: int = EXPIRATION_FUDGE


def bucket_window_end(bucket: str, period: int) -> int:
    """Return the Unix time at which the current window of ``bucket`` ends (``period`` seconds)."""
    return _get_window(bucket, period)


def bucket_cache_key(group: str, window: int, rate: str, bucket: str) -> str:
    """Return django-ratelimit's cache key for ``bucket`` of ``group`` at ``rate`` in ``window``.

    Methods are ALL, as ``get_usage`` uses them for every request method.
    """
    return _make_cache_key(group, window, rate, bucket, ALL)
