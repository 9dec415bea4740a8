"""On Redis, the script path counts in the same buckets as get_usage, in one round trip."""

import pytest
from django.core.cache import cache
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.authentication import ApiKeyAuthentication
from protection.base.exceptions import ProtectionError
from protection.core.ratelimit import (
    Hit,
    Quota,
    batch,
    rate_limit_count_many,
    rate_limit_distinct_hit,
    rate_limit_hit,
    rate_limit_hit_many,
)
from protection.core.ratelimit.batch import batch_available
from tests.support.cache import DEAD_REDIS

pytestmark = [pytest.mark.redis, pytest.mark.django_db, pytest.mark.urls(__name__)]


class _View(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []
    rate_limit_group = "t_batch"

    def post(self, request):
        return Response({})


urlpatterns = [path("api/test/batch", _View.as_view()), *project_urlpatterns]


@pytest.fixture(autouse=True)
def _batch_on(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMIT_BATCH": True,
        "AUTO_BLOCK_RULES": [],
        "RATE_LIMITS": {"t_batch": {"ip": ["5/m"], "key": ["3/m", "100/d"]}},
    }


@pytest.fixture
def round_trips(monkeypatch):
    """How many script calls (Redis round trips) were made."""
    calls = []
    real = batch.redis_count

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr("protection.core.ratelimit.counters.redis_count", counting)
    return calls


def _via_get_usage(settings, function, **kwargs):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": False}
    try:
        return function(**kwargs)
    finally:
        settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": True}


def test_batch_is_the_default_on_redis(settings):
    settings.GATEHOUSE = {k: v for k, v in settings.GATEHOUSE.items() if k != "RATE_LIMIT_BATCH"}
    assert batch_available()


def test_batch_and_get_usage_share_buckets_and_set_a_ttl(settings, round_trips):
    assert batch_available()
    counted = rate_limit_count_many([("g", "ip", "192.0.2.1", ["3/m", "10/h"])])
    assert [c.result.count for c in counted] == [1, 1]
    again = rate_limit_count_many([("g", "ip", "192.0.2.1", ["3/m", "10/h"])])
    assert [c.result.remaining for c in again] == [1, 8]
    assert len(round_trips) == 2
    via_get_usage = _via_get_usage(
        settings, rate_limit_hit, group="g:ip", ident="192.0.2.1", rate="3/m"
    )
    assert via_get_usage.count == 3 and via_get_usage.allowed
    assert len(round_trips) == 2
    refused = rate_limit_count_many([("g", "ip", "192.0.2.1", ["3/m"])])[0].result
    assert not refused.allowed and refused.count == 4
    client = cache._cache.get_client(None)
    ttls = [client.ttl(key) for key in client.keys(cache.make_key("rl:*"))]  # ours only
    assert ttls and all(0 < ttl <= 3600 + 5 for ttl in ttls)


def test_batched_limits_over_http(client, api_key):
    _key, raw = api_key
    statuses = [
        client.post("/api/test/batch", {}, format="json", HTTP_X_API_KEY=raw).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    response = client.post("/api/test/batch", {}, format="json", HTTP_X_API_KEY=raw)
    assert response.status_code == 429
    assert '"ip-1m";r=0' in response["RateLimit"]


def test_batch_falls_back_when_redis_dies(client, api_key, settings):
    settings.CACHES = DEAD_REDIS
    _key, raw = api_key
    statuses = [
        client.post("/api/test/batch", {}, format="json", HTTP_X_API_KEY=raw).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]


def test_peek_does_not_count(round_trips):
    rate_limit_hit(group="g", ident="a", rate="2/m")
    peek = rate_limit_hit(group="g", ident="a", rate="2/m", increment=False)
    assert peek.count == 1 and peek.remaining == 1
    assert rate_limit_hit(group="g", ident="a", rate="2/m").count == 2
    assert len(round_trips) == 3


def test_distinct_members_share_keys_with_the_get_usage_path(settings):
    hit = {"group": "ids", "ident": "ip", "rate": "2/h"}
    assert rate_limit_distinct_hit(member="a", **hit).count == 1
    assert _via_get_usage(settings, rate_limit_distinct_hit, member="a", **hit).count == 1
    assert _via_get_usage(settings, rate_limit_distinct_hit, member="b", **hit).count == 2
    assert rate_limit_distinct_hit(member="b", **hit).count == 2
    refused = rate_limit_distinct_hit(member="c", **hit)
    assert not refused.allowed and refused.count == 3


def test_many_counters_and_a_quota_in_one_round_trip(round_trips):
    items = [Quota("gh:quota:t", 2, 600), Hit("g", "a", "5/m"), Hit("d", "ip", "5/m", member="x")]
    results = rate_limit_hit_many(items)
    assert [r.count for r in results] == [1, 1, 1]
    assert len(round_trips) == 1
    quota_key = cache.make_and_validate_key("gh:quota:t")
    assert 0 < cache._cache.get_client(None).ttl(quota_key) <= 600
    assert results[0].reset_after == 600 and results[0].period == 600


def test_stop_at_refusal_leaves_later_counters_alone(round_trips):
    quota = Quota("gh:quota:s", 1, 600)
    rate_limit_hit_many([quota])
    results = rate_limit_hit_many([quota, Hit("g", "b", "5/m")], stop_at_refusal=True)
    assert len(results) == 1 and not results[0].allowed
    assert rate_limit_hit(group="g", ident="b", rate="5/m", increment=False).count == 0
    both = rate_limit_hit_many([quota, Hit("g", "b", "5/m")])
    assert [r.count for r in both] == [3, 1]


def test_a_quota_refuses_with_503_when_redis_dies(settings):
    settings.CACHES = DEAD_REDIS
    with pytest.raises(ProtectionError) as excinfo:
        rate_limit_hit_many([Quota("gh:quota:d", 5, 60), Hit("g", "c", "5/m")])
    assert excinfo.value.code == "service_unavailable"
    assert rate_limit_hit(group="g", ident="c", rate="1/m").allowed  # local fallback


def test_the_script_is_reloaded_after_a_script_flush(round_trips):
    rate_limit_hit(group="g", ident="f", rate="5/m")
    cache._cache.get_client(None, write=True).script_flush()
    assert rate_limit_hit(group="g", ident="f", rate="5/m").count == 2


def test_a_bad_rate_is_a_configuration_error_not_a_cache_outage():
    from protection.core.ratelimit import rate_limit_hit

    with pytest.raises(ValueError, match="is not a rate"):
        rate_limit_hit(group="g", ident="x", rate="1000000000/h")


@pytest.mark.parametrize("batch", [True, False])
def test_a_claim_is_granted_once_on_both_counting_paths(settings, batch):
    from protection.core.ratelimit import Claim, rate_limit_hit_many

    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": batch}
    first = rate_limit_hit_many([Claim("gh:test:claim", 60)])[0]
    again = rate_limit_hit_many([Claim("gh:test:claim", 60)])[0]
    other = rate_limit_hit_many([Claim("gh:test:claim2", 60)])[0]
    assert (first.allowed, again.allowed, other.allowed) == (True, False, True)


@pytest.mark.parametrize("batch", [True, False])
def test_a_quota_with_a_member_counts_each_member_once(settings, batch):
    from protection.core.ratelimit import Quota, rate_limit_hit_many

    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": batch}
    counts = [
        rate_limit_hit_many([Quota("gh:test:quota", 2, 60, member)])[0].count
        for member in ("retry-1", "retry-1", "retry-2", "retry-2", "retry-3")
    ]
    assert counts == [1, 1, 2, 2, 3]
