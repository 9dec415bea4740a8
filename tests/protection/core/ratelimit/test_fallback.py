"""Redis down: no 500, no hang; strict per-process limits (default) or 503.

The cache is pointed at a closed port; the real Redis is never touched.
"""

import pytest
from django.core.cache import cache
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.base.exceptions import ProtectionError
from protection.blocks import block_create, blocks_check
from protection.blocks.ruleset import BlockRegistry
from protection.core.events import SecurityEvent
from protection.core.ratelimit import rate_limit_hit
from protection.core.ratelimit.counters import cache_health
from tests.support.cache import DEAD_REDIS

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


class _LimitedView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    rate_limit_group = "t_dead"

    def post(self, request):
        return Response({"ok": True})


urlpatterns = [path("api/test/limited", _LimitedView.as_view()), *project_urlpatterns]


@pytest.fixture
def dead_redis(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"t_dead": {"ip": ["3/m"]}},
        "AUTO_BLOCK_RULES": [],
    }
    settings.CACHES = DEAD_REDIS


def test_counter_falls_back_to_strict_local_limits(dead_redis):
    results = [rate_limit_hit(group="g", ident="a", rate="2/m").allowed for _ in range(3)]
    assert results == [True, True, False]


def test_http_requests_get_limited_locally_never_a_500(client, dead_redis):
    statuses = [client.post("/api/test/limited", {}, format="json").status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_outage_is_recorded_once_not_per_request(client, dead_redis):
    for _ in range(5):
        client.post("/api/test/limited", {}, format="json")
    outages = SecurityEvent.objects.filter(kind="cache_unavailable")
    assert outages.count() == 1
    assert outages.get().decision == "alert"
    assert outages.get().reason == "rate_limit_local"


def test_cache_is_retried_after_the_pause(dead_redis, monkeypatch):
    rate_limit_hit(group="g", ident="a", rate="5/m")
    assert cache_health.is_down(cache_health.down_until - 0.001)
    assert not cache_health.is_down(cache_health.down_until)


def test_fail_closed_setting_answers_503(client, dead_redis, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_CACHE_FAILURE": "closed"}
    response = client.post("/api/test/limited", {}, format="json")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "service_unavailable"
    assert response["Retry-After"]
    with pytest.raises(ProtectionError):
        rate_limit_hit(group="g", ident="a", rate="5/m")


def test_blocks_survive_a_redis_outage(client, dead_redis):
    """The database is the truth: a block made during the outage still applies."""
    block_create(kind="ip", value="203.0.113.9", reason="test")
    with pytest.raises(ProtectionError):
        blocks_check(ip="203.0.113.9")
    response = client.post("/api/test/limited", {}, format="json", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 403


def test_other_process_reloads_from_db_within_a_second_without_cache(dead_redis):
    now = [1000.0]
    other_process = BlockRegistry(clock=lambda: now[0])
    assert other_process.current().match_ip("203.0.113.10", 0) is None
    block_create(kind="ip", value="203.0.113.10")
    now[0] += 1.0  # one second after the last load: the DB is read again
    assert other_process.current().match_ip("203.0.113.10", 0) is not None


def test_dead_cache_really_is_dead(dead_redis):
    with pytest.raises(Exception):  # noqa: B017 - any client error proves the point
        cache.get("anything")


def test_block_checks_on_a_dead_cache_record_one_outage_and_stop_retrying(dead_redis, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "BLOCKS_VERSION_CHECK_INTERVAL": 0}
    for _ in range(5):
        blocks_check(ip="192.0.2.1")
    assert SecurityEvent.objects.filter(kind="cache_unavailable").count() == 1
    assert cache_health.is_down(cache_health.down_until - 1)
