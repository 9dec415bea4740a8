"""The cache in tests: a Redis nobody listens on, and a cache of each test's own.

Under pytest-xdist each worker keys its cache entries with a prefix of its
own (the configured ``KEY_PREFIX`` plus the worker's name, from
``PYTEST_XDIST_WORKER``), and ``cache_clear`` deletes only that prefix's
keys. Django's ``RedisCache.clear()`` is ``FLUSHDB``, which would empty
every other worker's counters (and anything else in the database
``REDIS_URL`` names), so tests never call it on Redis. On the local-memory
cache each worker is its own process, hence its own cache, and a plain
clear is right.
"""

import os
import re
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.test.signals import clear_cache_handlers

DEAD_REDIS = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
    }
}


def cache_isolate_worker() -> str:
    """Give this xdist worker a key prefix of its own; return the prefix in use.

    Called once, before any test touches the cache. Outside xdist the
    configured prefix stays as it is.
    """
    default = settings.CACHES["default"]
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    prefix = default.get("KEY_PREFIX", "")
    if worker and "RedisCache" in default["BACKEND"]:
        prefix = f"{prefix}-{worker}" if prefix else worker
        default["KEY_PREFIX"] = prefix
        clear_cache_handlers(setting="CACHES")  # connections made before now keep the old prefix
    return prefix


def cache_clear() -> None:
    """Empty this test process's cache: on Redis, only the keys under its prefix."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    _delete_prefixed(backend._cache.get_client(None, write=True), backend.key_prefix)


def redis_forget(url: str, prefix: str) -> None:
    """Delete what a server with cache prefix ``prefix`` keeps in ``url``'s Redis db:
    what a restart without persistence loses, for that server alone."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        _delete_prefixed(client, prefix)
    finally:
        client.close()


def _delete_prefixed(client: Any, prefix: str) -> None:
    # Every version (make_key is "prefix:version:key"); the prefix matched literally.
    pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + ":*"
    batch: list[bytes] = []
    for key in client.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) == 1000:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)
