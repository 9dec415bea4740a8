"""The whole anonymous-session flow over HTTP: challenge, solve, session,
refresh, reuse detection, revoke. Once through Django's test client (fast
suite) and once against real gunicorn workers (marked ``server``)."""

import contextlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from protection import views
from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.gunicorn_server import GunicornServer
from tests.protection.sessions_support import (  # noqa: F401
    FAKE_SECRET,
    FAKE_SITE_KEY,
    easy_pow_fixture,
    localhost_cert_fixture,
    siteverify_start,
    solve,
)

ROOT = Path(__file__).resolve().parents[2]


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


# --- Against real gunicorn workers -------------------------------------------


def _server_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GATEHOUSE_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        # The project settings with endpoint limits raised: these tests open
        # more sessions from 127.0.0.1 than the production per-IP budget allows.
        DJANGO_SETTINGS_MODULE="tests.server_settings",
        GATEHOUSE_TEST_RATE_LIMITS=json.dumps(
            {group: {"ip": ["1000/m"]} for group in ("challenge", "session", "refresh")}
        ),
        DJANGO_SECRET_KEY="e2e-secret-" + "k3y" * 20,
        GATEHOUSE_SIGNING_KEY="e2e-signing-" + "s1gn" * 16,
        DJANGO_SECURE_SSL_REDIRECT="0",
        GATEHOUSE_DATA_DIR=str(tmp_path),
        PYTHONPATH=str(ROOT),
    )
    for name in ("DATABASE_URL", "REDIS_URL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    if "REDIS_URL" not in env:  # two workers on the local-memory cache, knowingly
        env["GATEHOUSE_ALLOW_LOCAL_CACHE"] = "1"
    return env


def _create_key(env: dict[str, str], manage: list[str], **fields: object) -> str:
    code = (
        "from protection.keys import api_key_create; "
        f"print(api_key_create(name='e2e sessions', **{fields!r})[1])"
    )
    created = subprocess.run(
        [*manage, "shell", "-c", code], env=env, check=True, cwd=ROOT,
        capture_output=True, text=True,
    )  # fmt: skip
    return created.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def _gunicorn(tmp_path: Path, extra_env: dict[str, str], **key_fields: object):
    """Migrate, create a key, serve with two gunicorn workers; yield (base URL, raw key)."""
    env = {**_server_env(tmp_path), **extra_env}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], env=env, check=True, cwd=ROOT)
    raw_key = _create_key(env, manage, **key_fields)
    with GunicornServer(env=env, workers=2) as server:
        yield f"http://127.0.0.1:{server.port}", raw_key


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with _gunicorn(tmp_path, {}, required_verifications=["pow"]) as running:
        yield running


@pytest.mark.server
def test_full_flow_against_gunicorn(server):
    base, raw = server
    http = requests.Session()
    http.headers["X-Api-Key"] = raw

    def new_session() -> dict:
        challenge = http.post(f"{base}/api/v1/challenges", timeout=15)
        assert challenge.status_code == 201, challenge.text
        payload = solve(challenge.json()["altcha"])  # the default difficulty
        created = http.post(f"{base}/api/v1/sessions", json={"altcha": payload}, timeout=15)
        assert created.status_code == 201, created.text
        replay = http.post(f"{base}/api/v1/sessions", json={"altcha": payload}, timeout=15)
        assert replay.status_code == 403 and replay.json()["code"] == "challenge_replayed"
        return created.json()

    tokens = new_session()
    refreshed = http.post(
        f"{base}/api/v1/sessions/refresh", json={"refresh": tokens["refresh"]}, timeout=15
    )
    assert refreshed.status_code == 200, refreshed.text
    reused = http.post(
        f"{base}/api/v1/sessions/refresh", json={"refresh": tokens["refresh"]}, timeout=15
    )
    assert reused.status_code == 401 and reused.json()["code"] == "session_revoked"
    after_reuse = http.delete(
        f"{base}/api/v1/sessions/current",
        headers={"Authorization": f"Bearer {refreshed.json()['access']}"},
        timeout=15,
    )
    assert after_reuse.status_code == 401 and after_reuse.json()["code"] == "session_revoked"

    tokens = new_session()
    bearer = {"Authorization": f"Bearer {tokens['access']}"}
    assert (
        http.delete(f"{base}/api/v1/sessions/current", headers=bearer, timeout=15).status_code
        == 204
    )
    # Every worker refuses it at once (two workers, several tries).
    for _ in range(6):
        again = http.delete(f"{base}/api/v1/sessions/current", headers=bearer, timeout=15)
        assert again.status_code == 401 and again.json()["code"] == "session_revoked"


@pytest.mark.server
def test_pow_and_recaptcha_against_gunicorn(tmp_path, localhost_cert):
    cert, key = localhost_cert
    google = siteverify_start(cert, key)
    # Unique tokens: the server's database outlives this test (spent tokens stay spent).
    human, bot = f"human-{uuid.uuid4().hex}", f"bot-{uuid.uuid4().hex}"
    google.answer(human, success=True, score=0.9, action="signup", hostname="signup.example")
    google.answer(bot, success=True, score=0.1, action="signup", hostname="signup.example")
    extra_env = {
        "RECAPTCHA_DOMAIN": f"127.0.0.1:{google.server_address[1]}",
        "RECAPTCHA_SECRET_KEY": FAKE_SECRET,
        "RECAPTCHA_SITE_KEY": FAKE_SITE_KEY,
        "RECAPTCHA_TIMEOUT": "2",
        "SSL_CERT_FILE": str(cert),
    }
    origin = "https://signup.example"
    try:
        with _gunicorn(
            tmp_path, extra_env, required_verifications=["pow", "recaptcha"],
            allowed_origins=[origin], recaptcha_action="signup",
        ) as (base, raw):  # fmt: skip
            http = requests.Session()
            http.headers.update({"X-Api-Key": raw, "Origin": origin})

            def attempt(token: str) -> requests.Response:
                challenge = http.post(f"{base}/api/v1/challenges", timeout=15).json()
                assert challenge["requires"] == ["pow", "recaptcha"]
                assert challenge["recaptcha_site_key"] == FAKE_SITE_KEY
                body = {"altcha": solve(challenge["altcha"]), "recaptcha_token": token}
                return http.post(f"{base}/api/v1/sessions", json=body, timeout=15)

            refused = attempt(bot)
            assert refused.status_code == 403 and refused.json()["code"] == "recaptcha_failed"
            assert "score" not in refused.text
            assert attempt(human).status_code == 201
            replayed = attempt(human)
            assert replayed.status_code == 403 and replayed.json()["code"] == "challenge_replayed"
            assert [r["response"] for r in google.requests] == [bot, human]
    finally:
        google.shutdown()
        google.server_close()


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
