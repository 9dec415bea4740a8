"""Tests stay out of each other's way: under pytest-xdist each worker keys the
cache with a prefix of its own, and clearing the cache between tests empties
only that prefix (never FLUSHDB, which would empty the other worker's)."""

import uuid

import pytest
import redis
from django.core.cache import cache

from tests.support.cache import cache_clear, cache_isolate_worker

REDIS_ELSEWHERE = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
        "KEY_PREFIX": "gh",
    }
}


def test_each_xdist_worker_gets_a_prefix_of_its_own(settings, monkeypatch):
    settings.CACHES = {"default": dict(REDIS_ELSEWHERE["default"])}
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert cache_isolate_worker() == "gh-gw1"
    assert cache.make_key("k") == "gh-gw1:1:k"


def test_outside_xdist_the_configured_prefix_stays(settings, monkeypatch):
    settings.CACHES = {"default": dict(REDIS_ELSEWHERE["default"])}
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert cache_isolate_worker() == "gh"


@pytest.mark.redis
def test_a_clear_empties_this_prefix_and_leaves_another_workers_keys(settings):
    raw = redis.Redis.from_url(settings.REDIS_URL)
    elsewhere = f"gh-elsewhere-{uuid.uuid4().hex[:8]}:1:counter"
    raw.set(elsewhere, 7, ex=60)
    try:
        cache.set("mine", 1)
        cache_clear()
        assert cache.get("mine") is None
        assert raw.get(elsewhere) == b"7"
    finally:
        raw.delete(elsewhere)
        raw.close()
