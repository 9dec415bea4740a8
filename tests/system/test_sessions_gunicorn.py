"""The whole anonymous-session flow against real gunicorn workers: challenge,
solve, session, refresh, reuse detection, revoke (the same flow through
Django's test client: tests/protection/sessions/test_flow.py), and proof of
work with reCAPTCHA against a fake Google siteverify."""

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

from tests.support.challenges import (  # noqa: F401
    FAKE_SECRET,
    FAKE_SITE_KEY,
    localhost_cert_fixture,
    siteverify_start,
    solve,
)
from tests.support.gunicorn import GunicornServer
from tests.support.paths import ROOT


def _server_env(tmp_path: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "GATEHOUSE_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        # The project settings with endpoint limits raised: these tests open
        # more sessions from 127.0.0.1 than the production per-IP budget allows.
        DJANGO_SETTINGS_MODULE="tests.support.server_settings",
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
