"""Cloudflare Turnstile at session start, against a fake siteverify speaking its protocol."""

import uuid

import pytest

from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.captcha import (  # noqa: F401
    TURNSTILE_SECRET,
    TURNSTILE_SITE_KEY,
    fake_captcha_fixture,
)

pytestmark = pytest.mark.django_db

ORIGIN = "https://signup.example"
CLIENT_IP = "198.51.100.30"


@pytest.fixture
def turnstile_key(make_api_key):
    return make_api_key(required_verifications=["turnstile"], allowed_origins=[ORIGIN])


def start(client, raw_key, token, *, origin=ORIGIN, **body):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return client.post(
        "/api/v1/sessions",
        {"turnstile_token": token, **body} if token is not None else body,
        format="json",
        HTTP_X_API_KEY=raw_key,
        REMOTE_ADDR=CLIENT_IP,
        **headers,
    )


def good(fake, token, **fields):
    fake.answer("turnstile", token, success=True, hostname="signup.example", action="signup",
                **fields)  # fmt: skip


def test_the_key_uses_turnstile_and_the_challenge_names_its_site_key(
    client, turnstile_key, fake_captcha
):
    api_key, raw = turnstile_key
    assert api_key.captcha == "turnstile" and api_key.captcha_action == "signup"
    body = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, HTTP_ORIGIN=ORIGIN).json()
    assert body["requires"] == ["turnstile"]
    assert body["turnstile_site_key"] == TURNSTILE_SITE_KEY
    assert body["hcaptcha_site_key"] is None and body["recaptcha_site_key"] is None


def test_a_good_token_starts_a_session_and_siteverify_is_asked_properly(
    client, turnstile_key, fake_captcha
):
    _, raw = turnstile_key
    good(fake_captcha, "tok-1")
    response = start(client, raw, "tok-1")
    assert response.status_code == 201, response.content
    [sent] = fake_captcha.requests["turnstile"]
    assert sent["secret"] == TURNSTILE_SECRET
    assert sent["response"] == "tok-1"
    assert sent["remoteip"] == CLIENT_IP
    assert uuid.UUID(sent["idempotency_key"])  # a UUID, as Cloudflare asks
    assert AnonymousSession.objects.count() == 1


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"success": True, "hostname": "evil.example", "action": "signup"}, "turnstile_hostname"),
        ({"success": True, "hostname": "signup.example", "action": "login"}, "turnstile_action"),
        ({"success": True, "hostname": "signup.example"}, "turnstile_action"),
        ({"success": False, "error-codes": ["invalid-input-response"]}, "turnstile_rejected"),
    ],
    ids=["wrong-hostname", "wrong-action", "no-action", "cloudflare-says-no"],
)
def test_refused_tokens(client, turnstile_key, fake_captcha, answer, reason):
    _, raw = turnstile_key
    fake_captcha.answer("turnstile", "tok", **answer)
    response = start(client, raw, "tok")
    assert response.status_code == 403
    assert response.json()["code"] == "captcha_failed"
    assert "hostname" not in response.content.decode()  # the answer stays server side
    assert AnonymousSession.objects.count() == 0
    event = SecurityEvent.objects.get(kind="captcha_failed")
    assert (event.decision, event.reason) == ("deny", reason)
    assert event.details["provider"] == "turnstile"


def test_the_action_is_the_keys_own(client, make_api_key, fake_captcha):
    _, raw = make_api_key(
        required_verifications=["turnstile"], allowed_origins=[ORIGIN], captcha_action="join"
    )
    good(fake_captcha, "signup-action")
    fake_captcha.answer("turnstile", "join-action", success=True, hostname="signup.example",
                        action="join")  # fmt: skip
    assert start(client, raw, "signup-action").status_code == 403
    assert start(client, raw, "join-action").status_code == 201


def test_a_replayed_token_is_refused_and_each_verification_has_its_own_idempotency_key(
    client, turnstile_key, fake_captcha
):
    _, raw = turnstile_key
    good(fake_captcha, "once")
    assert start(client, raw, "once").status_code == 201
    replay = start(client, raw, "once")
    assert replay.status_code == 403
    assert replay.json()["code"] == "captcha_failed"
    assert SecurityEvent.objects.get(kind="captcha_failed").reason == "turnstile_duplicate"
    keys = [request["idempotency_key"] for request in fake_captcha.requests["turnstile"]]
    # A reused key would have made Cloudflare repeat its first "success".
    assert len(keys) == 2 and keys[0] != keys[1]
    assert AnonymousSession.objects.count() == 1


def test_a_missing_token_is_refused_without_asking_cloudflare(client, turnstile_key, fake_captcha):
    _, raw = turnstile_key
    response = start(client, raw, None)
    assert response.status_code == 403
    assert response.json()["code"] == "captcha_failed"
    assert "turnstile_token" in response.json()["detail"]
    assert fake_captcha.requests["turnstile"] == []
    assert SecurityEvent.objects.get(kind="captcha_failed").reason == "turnstile_missing"


def test_an_oversized_token_is_a_validation_error(client, turnstile_key, fake_captcha):
    _, raw = turnstile_key
    response = start(client, raw, "x" * 2049)
    assert response.status_code == 400
    assert fake_captcha.requests["turnstile"] == []


def test_cloudflare_timing_out_fails_closed(client, turnstile_key, fake_captcha):
    _, raw = turnstile_key
    fake_captcha.hang.set()
    response = start(client, raw, "tok")
    assert response.status_code == 503
    assert response.json()["code"] == "captcha_unavailable"
    event = SecurityEvent.objects.get(kind="captcha_unavailable")
    assert (event.decision, event.reason) == ("alert", "fail_closed")
    assert event.details["provider"] == "turnstile"
    assert event.details["risk"]["tier"] == "low"  # the client's tier, recorded
    assert AnonymousSession.objects.count() == 0


def test_cloudflare_timing_out_fails_open_when_configured(
    client, turnstile_key, fake_captcha, settings
):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "TURNSTILE_FAIL_OPEN": True}
    _, raw = turnstile_key
    fake_captcha.hang.set()
    assert start(client, raw, "tok").status_code == 201
    event = SecurityEvent.objects.get(kind="captcha_unavailable")
    assert (event.decision, event.reason) == ("alert", "fail_open")


def test_without_a_secret_turnstile_is_unavailable(client, turnstile_key, fake_captcha, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "TURNSTILE_SECRET": ""}
    _, raw = turnstile_key
    good(fake_captcha, "tok")
    assert start(client, raw, "tok").json()["code"] == "captcha_unavailable"
    assert fake_captcha.requests["turnstile"] == []


def test_a_key_without_origins_expects_the_public_base_url_host(
    client, make_api_key, fake_captcha, settings
):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": "https://api.example.com"}
    _, raw = make_api_key(required_verifications=["turnstile"])
    fake_captcha.answer("turnstile", "page", success=True, hostname="signup.example",
                        action="signup")  # fmt: skip
    fake_captcha.answer("turnstile", "api", success=True, hostname="api.example.com",
                        action="signup")  # fmt: skip
    assert start(client, raw, "page", origin=None).status_code == 403
    assert start(client, raw, "api", origin=None).status_code == 201


def test_observe_mode_lets_a_refused_token_through_as_an_alert(client, make_api_key, fake_captcha):
    _, raw = make_api_key(
        required_verifications=["turnstile"], allowed_origins=[ORIGIN], verifications_dry_run=True
    )
    fake_captcha.answer("turnstile", "bad", success=True, hostname="evil.example",
                        action="signup")  # fmt: skip
    assert start(client, raw, "bad").status_code == 201
    event = SecurityEvent.objects.get(kind="captcha_failed")
    assert (event.decision, event.reason) == ("alert", "turnstile_hostname")
    assert event.details["dry_run"] is True
