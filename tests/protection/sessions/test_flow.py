"""The whole anonymous-session flow over HTTP: challenge, solve, session,
refresh, reuse detection, revoke, through Django's test client (the same
flow against real gunicorn workers: tests/system/test_sessions_gunicorn.py)."""

import pytest

from protection import views
from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401


def _session(client, raw_key: str, **body):
    return client.post("/api/v1/sessions", body, format="json", HTTP_X_API_KEY=raw_key)


def _challenge(client, raw_key: str) -> dict:
    response = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw_key)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
@pytest.mark.usefixtures("easy_pow")
class TestThroughTheTestClient:
    def test_full_flow(self, client, api_key):
        _, raw = api_key
        challenge = _challenge(client, raw)
        assert challenge["requires"] == ["pow"] and challenge["recaptcha_site_key"] is None
        created = _session(client, raw, altcha=solve(challenge["altcha"]))
        assert created.status_code == 201, created.content
        tokens = created.json()
        assert set(tokens) == {"session_id", "access", "refresh", "token_type", "expires_in"}
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300
        assert created["Cache-Control"] == "no-store"

        refreshed = client.post(
            "/api/v1/sessions/refresh", {"refresh": tokens["refresh"]}, format="json",
            HTTP_X_API_KEY=raw,
        )  # fmt: skip
        assert refreshed.status_code == 200, refreshed.content
        pair = refreshed.json()
        assert refreshed["Cache-Control"] == "no-store"
        assert pair["session_id"] == tokens["session_id"] and pair["refresh"] != tokens["refresh"]

        reused = client.post(
            "/api/v1/sessions/refresh", {"refresh": tokens["refresh"]}, format="json",
            HTTP_X_API_KEY=raw,
        )  # fmt: skip
        assert reused.status_code == 401
        assert reused.json()["code"] == "session_revoked"
        gone = client.delete(
            "/api/v1/sessions/current", HTTP_X_API_KEY=raw,
            HTTP_AUTHORIZATION=f"Bearer {pair['access']}",
        )  # fmt: skip
        assert gone.status_code == 401 and gone.json()["code"] == "session_revoked"
        assert SecurityEvent.objects.filter(kind="refresh_reuse").exists()

    def test_delete_current_revokes_at_once(self, client, api_key):
        _, raw = api_key
        tokens = _session(client, raw, altcha=solve(_challenge(client, raw)["altcha"])).json()
        auth = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {tokens['access']}"}
        assert client.delete("/api/v1/sessions/current", **auth).status_code == 204
        again = client.delete("/api/v1/sessions/current", **auth)
        assert again.status_code == 401 and again.json()["code"] == "session_revoked"
        refresh = client.post(
            "/api/v1/sessions/refresh", {"refresh": tokens["refresh"]}, format="json",
            HTTP_X_API_KEY=raw,
        )  # fmt: skip
        assert refresh.json()["code"] == "session_revoked"
        session = AnonymousSession.objects.get(pk=tokens["session_id"])
        assert session.revoked_reason == "client_logout"

    def test_works_with_the_cache_down(self, client, api_key, settings):
        # Replay records live in the database; denial counters and issuance
        # counts are best effort: a Redis outage must not stop sign-ups.
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
                "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
            }
        }
        _, raw = api_key
        challenge = _challenge(client, raw)
        assert challenge["altcha"]["parameters"]["data"]["maxNumber"] == 400  # the default
        payload = solve(challenge["altcha"])
        assert _session(client, raw, altcha=payload).status_code == 201
        assert _session(client, raw, altcha=payload).json()["code"] == "challenge_replayed"

    def test_replayed_solution_is_403(self, client, api_key):
        _, raw = api_key
        payload = solve(_challenge(client, raw)["altcha"])
        assert _session(client, raw, altcha=payload).status_code == 201
        replay = _session(client, raw, altcha=payload)
        assert replay.status_code == 403
        assert replay["Content-Type"] == "application/problem+json"
        assert replay.json()["code"] == "challenge_replayed"

    def test_missing_and_garbage_solutions_are_403(self, client, api_key):
        _, raw = api_key
        for body in ({}, {"altcha": "garbage"}, {"altcha": "e30="}):
            response = _session(client, raw, **body)
            assert response.status_code == 403
            assert response.json()["code"] == "challenge_failed"
        assert AnonymousSession.objects.count() == 0

    def test_wrong_types_are_400(self, client, api_key):
        _, raw = api_key
        for body in ({"altcha": ["x"]}, {"altcha": "x" * 5000}, {"device_id": "has space"}):
            response = client.post("/api/v1/sessions", body, format="json", HTTP_X_API_KEY=raw)
            assert response.status_code == 400, body
            assert response.json()["code"] == "invalid_request"

    def test_device_id_body_wins_over_header(self, client, api_key):
        _, raw = api_key
        for body, header, expected in (
            ({"device_id": "from-body"}, "from-header", "from-body"),
            ({}, "from-header", "from-header"),
            ({}, None, ""),
        ):
            extra = {"HTTP_X_DEVICE_ID": header} if header else {}
            altcha = solve(_challenge(client, raw)["altcha"])
            response = client.post(
                "/api/v1/sessions", {"altcha": altcha, **body}, format="json",
                HTTP_X_API_KEY=raw, HTTP_USER_AGENT="FlowTest/1", **extra,
            )  # fmt: skip
            assert response.status_code == 201
            session = AnonymousSession.objects.get(pk=response.json()["session_id"])
            assert session.device_id == expected and session.user_agent == "FlowTest/1"

    def test_invalid_device_header_is_400(self, client, api_key):
        _, raw = api_key
        altcha = solve(_challenge(client, raw)["altcha"])
        response = client.post(
            "/api/v1/sessions", {"altcha": altcha}, format="json",
            HTTP_X_API_KEY=raw, HTTP_X_DEVICE_ID="x" * 200,
        )  # fmt: skip
        assert response.status_code == 400

    def test_endpoints_need_a_key_with_the_session_scope(self, client, make_api_key):
        _, raw = make_api_key(scopes=["lookup"])
        assert client.post("/api/v1/challenges").json()["code"] == "api_key_missing"
        response = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw)
        assert response.status_code == 403 and response.json()["code"] == "scope_denied"
        response = _session(client, raw)
        assert response.status_code == 403 and response.json()["code"] == "scope_denied"

    def test_refresh_with_garbage_is_401(self, client, api_key):
        _, raw = api_key
        response = client.post(
            "/api/v1/sessions/refresh", {"refresh": "x.y.z"}, format="json", HTTP_X_API_KEY=raw
        )
        assert response.status_code == 401 and response.json()["code"] == "token_invalid"
        response = client.post("/api/v1/sessions/refresh", {}, format="json", HTTP_X_API_KEY=raw)
        assert response.status_code == 400


def test_views_declare_rate_limit_groups_and_scope():
    assert views.ChallengeView.rate_limit_group == "challenge"
    assert views.SessionCreateView.rate_limit_group == "session"
    assert views.SessionRefreshView.rate_limit_group == "refresh"
    for view in (views.ChallengeView, views.SessionCreateView, views.SessionRefreshView,
                 views.SessionCurrentView):  # fmt: skip
        assert view.required_scope == "session"


def test_refused_tokens_are_recorded_and_name_the_bearer_scheme(client, make_api_key):
    key, raw = make_api_key()
    for authorization, code in [
        ("", "token_missing"),
        ("Bearer not-a-jwt", "token_invalid"),
    ]:
        response = client.delete(
            "/api/v1/sessions/current", HTTP_X_API_KEY=raw, HTTP_AUTHORIZATION=authorization
        )
        assert response.status_code == 401 and response.json()["code"] == code
        assert response["WWW-Authenticate"].startswith("Bearer")
    refused = client.post(
        "/api/v1/sessions/refresh", {"refresh": "not-a-jwt"}, format="json", HTTP_X_API_KEY=raw
    )
    assert refused.status_code == 401
    events = SecurityEvent.objects.filter(kind="token_auth", decision="deny", api_key=key)
    assert sorted(events.values_list("reason", "details__token_type")) == [
        ("token_invalid", "access"),
        ("token_invalid", "refresh"),
        ("token_missing", "access"),
    ]
    assert "not-a-jwt" not in str(list(events.values_list("details", flat=True)))
