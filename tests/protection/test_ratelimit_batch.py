"""The opt-in batched path counts in the same Redis buckets as get_usage."""

import pytest
from django.core.cache import cache
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.authentication import ApiKeyAuthentication
from protection.ratelimit import rate_limit_count_many, rate_limit_hit
from protection.ratelimit.batch import batch_available
from tests.protection.test_ratelimit_fallback import DEAD_REDIS

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


def test_batch_and_get_usage_share_buckets_and_set_a_ttl():
    assert batch_available()
    counted = rate_limit_count_many([("g", "ip", "192.0.2.1", ["3/m", "10/h"])])
    assert [c.result.count for c in counted] == [1, 1]
    again = rate_limit_count_many([("g", "ip", "192.0.2.1", ["3/m", "10/h"])])
    assert [c.result.remaining for c in again] == [1, 8]
    via_get_usage = rate_limit_hit(group="g:ip", ident="192.0.2.1", rate="3/m")
    assert via_get_usage.count == 3 and via_get_usage.allowed
    refused = rate_limit_count_many([("g", "ip", "192.0.2.1", ["3/m"])])[0].result
    assert not refused.allowed and refused.count == 4
    client = cache._cache.get_client(None)
    ttls = [client.ttl(key) for key in client.keys("*rl:*")]
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
