"""Counters that count what succeeded: a conditional increment and its refund.

The same semantics on every path the limiter takes: the Lua script on Redis,
django-ratelimit's buckets through the cache API (``RATE_LIMIT_BATCH``
off, or the local-memory cache), and the per-process fallback counters
when the shared cache is down.
"""

import dataclasses
import threading

import pytest

from protection.core.cachehealth import cache_health
from protection.core.ratelimit import (
    Hit,
    LimitEntry,
    Refund,
    RequestLimits,
    rate_limit_hit_many,
    request_limits_count,
)
from protection.core.ratelimit.counters import rate_limit_refund_locally
from tests.support.cache import DEAD_REDIS

pytestmark = pytest.mark.django_db

PATHS = [pytest.param("script", marks=pytest.mark.redis), "cache", "local"]


@pytest.fixture(params=PATHS)
def path(request, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": request.param == "script"}
    if request.param == "local":
        settings.CACHES = DEAD_REDIS
    cache_health.reset()
    yield request.param
    cache_health.reset()


def _spend(ident="mailbox-digest", rate="2/m"):
    return Hit("create:mailbox", ident, rate, conditional=True)


def _refund(result, hit=None):
    refund = Refund(hit or _spend(), result.window, result.local)
    if refund.local:
        rate_limit_refund_locally(refund)
    else:
        rate_limit_hit_many([refund])


def test_a_conditional_hit_never_counts_past_its_limit(path):
    results = [rate_limit_hit_many([_spend()])[0] for _ in range(4)]
    assert [r.allowed for r in results] == [True, True, False, False]
    assert [r.count for r in results] == [1, 2, 3, 3]  # limit + 1, nothing counted
    assert all(r.local == (path == "local") for r in results)
    _refund(results[0])
    again = rate_limit_hit_many([_spend()])[0]
    assert (again.allowed, again.count) == (True, 2)


def test_a_refund_never_goes_below_zero(path):
    counted = rate_limit_hit_many([_spend()])[0]
    for _ in range(3):
        _refund(counted)
    results = [rate_limit_hit_many([_spend()])[0].allowed for _ in range(3)]
    assert results == [True, True, False]


def test_a_refund_of_an_ended_window_changes_nothing(path):
    first = rate_limit_hit_many([_spend(rate="1/m")])[0]
    _refund(dataclasses.replace(first, window=first.window - 60), hit=_spend(rate="1/m"))
    assert not rate_limit_hit_many([_spend(rate="1/m")])[0].allowed


def test_an_observing_hit_does_not_stop_the_count(path):
    observed = Hit("g:key", "k", "1/m", stops=False)
    after = Hit("g:ip", "192.0.2.1", "5/m")
    rate_limit_hit_many([observed])
    results = rate_limit_hit_many([observed, after], stop_at_refusal=True)
    assert [r.allowed for r in results] == [False, True]
    stopping = rate_limit_hit_many([observed._replace(stops=True), after], stop_at_refusal=True)
    assert len(stopping) == 1


def test_request_limits_count_successes_last_and_keep_their_refunds(path):
    limits = RequestLimits(group="create")
    limits.add(dimension="ip", ident="192.0.2.1", rates=["10/m"])
    limits.add(dimension="mailbox", ident="m", rates=["1/d"], on_success=True)
    counted = request_limits_count(limits)
    assert [item.dimension for item in counted.group] == ["ip", "mailbox"]
    assert [item.private for item in counted.group] == [False, True]
    (refund,) = limits.refunds
    request_limits_count(None, refunds=limits.refunds_take())
    assert limits.refunds == []
    again = RequestLimits(group="create")
    again.add(dimension="mailbox", ident="m", rates=["1/d"], on_success=True)
    assert request_limits_count(again).group[0].result.allowed  # the budget came back


def test_successes_are_not_counted_once_something_refused(path):
    limits = RequestLimits(group="create")
    limits.add(dimension="ip", ident="192.0.2.1", rates=["1/m"])
    request_limits_count(limits)
    refused = RequestLimits(group="create")
    refused.add(dimension="ip", ident="192.0.2.1", rates=["1/m"])
    refused.add(dimension="mailbox", ident="m", rates=["1/d"], on_success=True)
    counted = request_limits_count(refused)
    assert [item.dimension for item in counted.group] == ["ip"]
    assert refused.refunds == []  # nothing was spent, nothing to give back


def test_an_observed_success_limit_counts_over_its_limit(path, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMITS_OBSERVE": ["create:mailbox"]}
    for expected in (True, False):
        limits = RequestLimits(group="create")
        limits.add(dimension="mailbox", ident="m", rates=["1/d"], on_success=True)
        assert limits.pending[0] == LimitEntry("create", "mailbox", "m", ("1/d",), True, True)
        (item,) = request_limits_count(limits).group
        assert item.result.allowed is expected
        assert len(limits.refunds) == 1  # counted either way: a failure gives it back


@pytest.mark.redis
def test_concurrent_conditional_hits_admit_exactly_the_limit(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": True}
    barrier = threading.Barrier(16)
    admitted = []

    def spend():
        barrier.wait(timeout=10)
        admitted.append(rate_limit_hit_many([_spend(rate="3/d")])[0].allowed)

    threads = [threading.Thread(target=spend) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(admitted) == [False] * 13 + [True] * 3
