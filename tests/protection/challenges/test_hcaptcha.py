"""hCaptcha at session start, against a fake siteverify speaking its protocol."""

import datetime

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.captcha import (  # noqa: F401
    HCAPTCHA_SECRET,
    HCAPTCHA_SITE_KEY,
    fake_captcha_fixture,
)

pytestmark = pytest.mark.django_db

ORIGIN = "https://signup.example"
CLIENT_IP = "198.51.100.31"


@pytest.fixture
def hcaptcha_key(make_api_key):
    return make_api_key(required_verifications=["hcaptcha"], allowed_origins=[ORIGIN])


def start(client, raw_key, token):
    return client.post(
        "/api/v1/sessions",
        {"hcaptcha_token": token} if token is not None else {},
        format="json",
        HTTP_X_API_KEY=raw_key,
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR=CLIENT_IP,
    )


def solved(seconds_ago=5):
    stamp = timezone.now() - datetime.timedelta(seconds=seconds_ago)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def good(fake, token, **fields):
    fake.answer("hcaptcha", token, success=True, hostname="signup.example",
                challenge_ts=solved(), credit=False, **fields)  # fmt: skip


def test_the_challenge_names_the_hcaptcha_site_key(client, hcaptcha_key, fake_captcha):
    _, raw = hcaptcha_key
    body = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, HTTP_ORIGIN=ORIGIN).json()
    assert body["requires"] == ["hcaptcha"]
    assert body["hcaptcha_site_key"] == HCAPTCHA_SITE_KEY
    assert body["turnstile_site_key"] is None


def test_a_good_token_starts_a_session(client, hcaptcha_key, fake_captcha):
    _, raw = hcaptcha_key
    good(fake_captcha, "P1_good")
    response = start(client, raw, "P1_good")
    assert response.status_code == 201, response.content
    assert fake_captcha.requests["hcaptcha"] == [
        {
            "secret": HCAPTCHA_SECRET,
            "response": "P1_good",
            "remoteip": CLIENT_IP,
            "sitekey": HCAPTCHA_SITE_KEY,  # hCaptcha checks the token was for our site key
        }
    ]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"success": True, "hostname": "evil.example", "challenge_ts": solved()},
         "hcaptcha_hostname"),
        ({"success": True, "hostname": "signup.example", "challenge_ts": solved(3600)},
         "hcaptcha_stale"),
        ({"success": False, "error-codes": ["invalid-input-response"]}, "hcaptcha_rejected"),
    ],
    ids=["wrong-hostname", "solved-an-hour-ago", "hcaptcha-says-no"],
)  # fmt: skip
def test_refused_tokens(client, hcaptcha_key, fake_captcha, answer, reason):
    _, raw = hcaptcha_key
    fake_captcha.answer("hcaptcha", "tok", **answer)
    response = start(client, raw, "tok")
    assert response.status_code == 403
    assert response.json()["code"] == "captcha_failed"
    event = SecurityEvent.objects.get(kind="captcha_failed")
    assert (event.decision, event.reason) == ("deny", reason)
    assert event.details["provider"] == "hcaptcha"
    assert AnonymousSession.objects.count() == 0


def test_a_token_is_accepted_once_and_a_replay_never_reaches_hcaptcha(
    client, hcaptcha_key, fake_captcha
):
    _, raw = hcaptcha_key
    good(fake_captcha, "P1_once")
    assert start(client, raw, "P1_once").status_code == 201
    replay = start(client, raw, "P1_once")
    assert replay.status_code == 403
    assert replay.json()["code"] == "challenge_replayed"
    event = SecurityEvent.objects.get(kind="challenge_replayed")
    assert (event.reason, event.details["provider"]) == ("hcaptcha_replayed", "hcaptcha")
    assert event.details["risk"]["asked"] == ["hcaptcha"]  # the challenge ladder's record
    assert len(fake_captcha.requests["hcaptcha"]) == 1


@pytest.mark.skipif(
    "RedisCache" not in settings.CACHES["default"]["BACKEND"],
    reason="reads the keys of the shared cache (REDIS_URL)",
)
def test_the_spent_store_keeps_a_hash_of_the_token_never_the_token(
    client, hcaptcha_key, fake_captcha
):
    _, raw = hcaptcha_key
    token = "P1_" + "secret-looking-token-value" * 3
    good(fake_captcha, token)
    assert start(client, raw, token).status_code == 201
    keys = [key.decode() for key in cache._cache.get_client().keys("*captcha:spent*")]
    assert len(keys) == 1
    assert token not in keys[0] and "secret-looking" not in keys[0]


def test_a_missing_token_is_refused_without_asking_hcaptcha(client, hcaptcha_key, fake_captcha):
    _, raw = hcaptcha_key
    response = start(client, raw, "")
    assert response.status_code == 403
    assert "hcaptcha_token" in response.json()["detail"]
    assert fake_captcha.requests["hcaptcha"] == []


def test_hcaptcha_timing_out_fails_closed_then_open_when_configured(
    client, hcaptcha_key, fake_captcha, settings
):
    _, raw = hcaptcha_key
    fake_captcha.hang.set()
    closed = start(client, raw, "P1_a")
    assert (closed.status_code, closed.json()["code"]) == (503, "captcha_unavailable")
    settings.GATEHOUSE = {**settings.GATEHOUSE, "HCAPTCHA_FAIL_OPEN": True}
    assert start(client, raw, "P1_b").status_code == 201
    reasons = sorted(SecurityEvent.objects.filter(kind="captcha_unavailable")
                     .values_list("reason", flat=True))  # fmt: skip
    assert reasons == ["fail_closed", "fail_open"]
