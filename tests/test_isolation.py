"""Tests stay out of each other's way: under pytest-xdist each worker keys the
cache with a prefix of its own, and clearing the cache between tests empties
only that prefix (never FLUSHDB, which would empty the other worker's)."""

import re
import uuid
from pathlib import Path

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


def test_no_test_flushes_the_redis_db_the_workers_share():
    # Django's clear() on Redis is FLUSHDB: the other worker's counters go
    # too, and its test admits what it should refuse. tests/system start
    # Redis servers of their own.
    tests = Path(__file__).parent
    flushes = [
        f"{path.relative_to(tests)}:{number}"
        for path in tests.rglob("*.py")
        if "system" not in path.relative_to(tests).parts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bcache\.clear\(\)", line)
    ]
    assert flushes == []
