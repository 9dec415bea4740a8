"""The DRF throttle and the early per-IP count, through HTTP."""

import re

import pytest
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.authentication import ApiKeyAuthentication, SessionTokenAuthentication
from protection.core.events import SecurityEvent

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

VIEW_CALLS = []


class _OpenLimitedView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    rate_limit_group = "t_open"

    def post(self, request):
        VIEW_CALLS.append("open")
        return Response({"ok": True})


class _KeyLimitedView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes: list = []
    rate_limit_group = "t_key"

    def post(self, request):
        return Response({"ok": True})


class _SessionLimitedView(APIView):
    authentication_classes = [SessionTokenAuthentication]
    permission_classes: list = []
    rate_limit_group = "t_session"

    def post(self, request):
        return Response({"ok": True})


class _UnlimitedView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        return Response({"ok": True})


urlpatterns = [
    path("api/test/open", _OpenLimitedView.as_view()),
    path("api/test/key", _KeyLimitedView.as_view()),
    path("api/test/session", _SessionLimitedView.as_view()),
    path("api/test/unlimited", _UnlimitedView.as_view()),
    *project_urlpatterns,
]

LIMITS = {
    "t_open": {"ip": ["3/m", "100/d"]},
    "t_key": {"ip": ["100/m"], "key": ["2/m"]},
    "t_session": {"ip": ["100/m"], "key": ["100/m"], "session": ["2/m"]},
}


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMITS": LIMITS, "AUTO_BLOCK_RULES": []}
    VIEW_CALLS.clear()


def _post(client, url, ip="198.51.100.1", **headers):
    return client.post(url, {}, format="json", REMOTE_ADDR=ip, **headers)


def test_allowed_responses_carry_ietf_ratelimit_headers(client):
    response = _post(client, "/api/test/open")
    assert response.status_code == 200
    assert response["RateLimit-Policy"] == '"ip-1m";q=3;w=60, "ip-1d";q=100;w=86400'
    assert re.fullmatch(r'"ip-1m";r=2;t=\d+, "ip-1d";r=99;t=\d+', response["RateLimit"])


def test_over_the_limit_is_429_problem_with_retry_after_and_headers(client):
    for _ in range(3):
        assert _post(client, "/api/test/open").status_code == 200
    response = _post(client, "/api/test/open")
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    assert response["RateLimit-Policy"].startswith('"ip-1m";q=3;w=60')
    assert response["RateLimit"].startswith('"ip-1m";r=0;t=')
    assert VIEW_CALLS == ["open"] * 3
    event = SecurityEvent.objects.get(kind="rate_limited")
    assert event.decision == "deny" and event.client_ip == "198.51.100.1"


def test_other_ips_are_unaffected(client):
    for _ in range(4):
        _post(client, "/api/test/open", ip="198.51.100.1")
    assert _post(client, "/api/test/open", ip="198.51.100.2").status_code == 200


def test_ipv6_clients_share_their_64(client):
    for suffix in ("1", "2", "3"):
        assert _post(client, "/api/test/open", ip=f"2001:db8:0:1::{suffix}").status_code == 200
    assert _post(client, "/api/test/open", ip="2001:db8:0:1:ffff::9").status_code == 429
    assert _post(client, "/api/test/open", ip="2001:db8:0:2::1").status_code == 200


def test_ipv4_mapped_ipv6_is_the_same_client(client):
    for _ in range(3):
        _post(client, "/api/test/open", ip="192.0.2.5")
    assert _post(client, "/api/test/open", ip="::ffff:192.0.2.5").status_code == 429


def test_per_key_limit_is_per_key(client, make_api_key):
    _key_a, raw_a = make_api_key(name="a")
    _key_b, raw_b = make_api_key(name="b")
    for _ in range(2):
        assert _post(client, "/api/test/key", HTTP_X_API_KEY=raw_a).status_code == 200
    refused = _post(client, "/api/test/key", HTTP_X_API_KEY=raw_a)
    assert refused.status_code == 429
    assert '"key-1m";r=0' in refused["RateLimit"]
    assert '"ip-1m";q=100;w=60' in refused["RateLimit-Policy"]
    assert _post(client, "/api/test/key", HTTP_X_API_KEY=raw_b).status_code == 200
    event = SecurityEvent.objects.get(kind="rate_limited")
    assert event.api_key.name == "a" and "key" in event.details["dimensions"]


def test_per_key_override_from_the_database_applies_at_once(client, make_api_key):
    key, raw = make_api_key()
    key.rate_limit_overrides = {"t_key": {"key": ["4/m"]}}
    key.save()
    statuses = [_post(client, "/api/test/key", HTTP_X_API_KEY=raw).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]
    key.rate_limit_overrides = {"t_key": {"key": []}}  # lifted for this key
    key.save()
    assert _post(client, "/api/test/key", HTTP_X_API_KEY=raw).status_code == 200


def test_per_session_limit(client, api_key, make_session):
    key, raw = api_key
    first = make_session(key)
    second = make_session(key)
    auth_first = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {first.access}"}
    auth_second = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {second.access}"}
    assert _post(client, "/api/test/session", **auth_first).status_code == 200
    assert _post(client, "/api/test/session", **auth_first).status_code == 200
    refused = _post(client, "/api/test/session", **auth_first)
    assert refused.status_code == 429
    assert '"session-1m";r=0' in refused["RateLimit"]
    assert _post(client, "/api/test/session", **auth_second).status_code == 200


def test_failed_authentication_spends_the_ip_budget(client, api_key, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"t_key": {"ip": ["3/m"], "key": ["100/m"]}},
    }
    _key, raw = api_key
    forged = raw[:-8] + ("A" if raw[-8] != "A" else "B") + raw[-7:]
    for bad in ("gh_pub_nonsense", forged, ""):
        assert _post(client, "/api/test/key", HTTP_X_API_KEY=bad).status_code == 401
    # The valid key from the same address finds the budget spent.
    response = _post(client, "/api/test/key", HTTP_X_API_KEY=raw)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"


def test_refused_requests_keep_counting(client):
    for _ in range(10):
        _post(client, "/api/test/open")
    response = _post(client, "/api/test/open")
    assert '"ip-1d";r=89' in response["RateLimit"]


def test_views_without_a_group_are_not_limited(client):
    for _ in range(10):
        response = _post(client, "/api/test/unlimited")
        assert response.status_code == 200
    assert "RateLimit" not in response and "RateLimit-Policy" not in response


def test_throttle_is_the_project_default():
    from django.conf import settings as django_settings

    assert django_settings.REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] == [
        "protection.throttling.GatehouseRateThrottle"
    ]


def test_blocked_requests_spend_the_ip_budget_too(client):
    from protection.blocks import block_create, block_lift

    block = block_create(kind="ip", value="198.51.100.9")
    for _ in range(3):
        response = _post(client, "/api/test/open", ip="198.51.100.9")
        assert response.status_code == 403 and response.json()["code"] == "blocked"
    block_lift(block=block)
    response = _post(client, "/api/test/open", ip="198.51.100.9")
    assert response.status_code == 429
    assert VIEW_CALLS == []


def test_unknown_client_address_has_its_own_bucket(client):
    for _ in range(3):
        assert _post(client, "/api/test/open", ip="not-an-address").status_code == 200
    assert _post(client, "/api/test/open", ip="").status_code == 429
    assert _post(client, "/api/test/open", ip="198.51.100.1").status_code == 200


def test_an_address_over_its_budget_costs_no_database_work(client, api_key, settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from protection.base import crypto

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {"t_key": {"ip": ["2/m"], "key": ["100/m"]}},
        "AUTO_BLOCK_RULES": [],
    }
    _key, raw = api_key

    def unknown_key() -> str:  # well formed, checksum right, id unknown: a cache miss
        return crypto.generate_raw_key(kind="publishable", public_id=crypto.generate_public_id())[0]

    for _ in range(2):
        assert _post(client, "/api/test/key", HTTP_X_API_KEY=unknown_key()).status_code == 401
    assert _post(client, "/api/test/key", HTTP_X_API_KEY=unknown_key()).status_code == 429
    # From now on this process knows the address is over its budget: refused
    # before authentication, so a fresh unknown key costs no key lookup.
    for _ in range(3):
        with CaptureQueriesContext(connection) as queries:
            response = _post(client, "/api/test/key", HTTP_X_API_KEY=unknown_key())
        # Only the audit log's write (bounded per second), never a key lookup.
        assert [q["sql"] for q in queries if "protection_apikey" in q["sql"]] == []
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "RateLimit" in response
    # Another address is not affected.
    assert _post(client, "/api/test/key", ip="198.51.100.2", HTTP_X_API_KEY=raw).status_code == 200
