"""reCAPTCHA evidence, against a fake siteverify speaking Google's protocol."""

import time

import pytest
from django.core import checks
from django_recaptcha.constants import TEST_PRIVATE_KEY, TEST_PUBLIC_KEY

from protection.checks import check_recaptcha_keys
from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.challenges import (  # noqa: F401
    FAKE_SECRET,
    FAKE_SITE_KEY,
    easy_pow_fixture,
    localhost_cert_fixture,
    siteverify_fixture,
    solve,
)

pytestmark = pytest.mark.django_db

ORIGIN = "https://signup.example"


@pytest.fixture
def recaptcha_key(make_api_key):
    return make_api_key(
        required_verifications=["recaptcha"],
        allowed_origins=[ORIGIN],
        recaptcha_action="signup",
        recaptcha_min_score=0.7,
    )


def _start(client, raw_key, token, **extra):
    return client.post(
        "/api/v1/sessions",
        {"recaptcha_token": token},
        format="json",
        HTTP_X_API_KEY=raw_key,
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR="198.51.100.20",
        **extra,
    )


def test_challenge_response_names_the_site_key(client, recaptcha_key, siteverify):
    _, raw = recaptcha_key
    response = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 201
    assert response.json()["requires"] == ["recaptcha"]
    assert response.json()["recaptcha_site_key"] == FAKE_SITE_KEY


def test_v3_token_with_good_score_starts_a_session(client, recaptcha_key, siteverify):
    _, raw = recaptcha_key
    siteverify.answer("good", success=True, score=0.9, action="signup", hostname="signup.example")
    response = _start(client, raw, "good")
    assert response.status_code == 201, response.content
    assert "score" not in response.content.decode()
    assert siteverify.requests == [
        {"secret": FAKE_SECRET, "response": "good", "remoteip": "198.51.100.20"}
    ]


@pytest.mark.parametrize(
    "answer, reason",
    [
        ({"success": True, "score": 0.3, "action": "signup", "hostname": "signup.example"},
         "recaptcha_low_score"),
        ({"success": True, "score": 0.9, "action": "login", "hostname": "signup.example"},
         "recaptcha_action"),
        ({"success": True, "score": 0.9, "action": "signup", "hostname": "evil.example"},
         "recaptcha_hostname"),
        ({"success": True, "action": "signup", "hostname": "signup.example"},
         "recaptcha_no_score"),
        ({"success": True, "score": float("nan"), "action": "signup",
          "hostname": "signup.example"}, "recaptcha_no_score"),
        ({"success": True, "score": float("inf"), "action": "signup",
          "hostname": "signup.example"}, "recaptcha_no_score"),
        ({"success": True, "score": 7, "action": "signup", "hostname": "signup.example"},
         "recaptcha_no_score"),
        ({"success": False, "error-codes": ["timeout-or-duplicate"]}, "recaptcha_rejected"),
    ],
    ids=["low-score", "wrong-action", "wrong-hostname", "no-score", "nan-score", "inf-score",
         "score-above-one", "google-says-no"],
)  # fmt: skip
def test_v3_refusals(client, recaptcha_key, siteverify, answer, reason):
    _, raw = recaptcha_key
    siteverify.answer("tok", **answer)
    response = _start(client, raw, "tok")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "recaptcha_failed"
    assert "score" not in response.content.decode()
    assert AnonymousSession.objects.count() == 0
    event = SecurityEvent.objects.get(kind="recaptcha_failed")
    assert event.reason == reason and event.decision == "deny"


def test_v2_needs_no_score(client, make_api_key, siteverify):
    _, raw = make_api_key(
        required_verifications=["recaptcha"], allowed_origins=[ORIGIN], recaptcha_version="v2"
    )
    siteverify.answer("v2", success=True, hostname="signup.example")
    assert _start(client, raw, "v2").status_code == 201


def test_hostnames_setting_overrides_origins(client, recaptcha_key, siteverify, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RECAPTCHA_HOSTNAMES": ["app.example"]}
    _, raw = recaptcha_key
    siteverify.answer("a", success=True, score=0.9, action="signup", hostname="signup.example")
    siteverify.answer("b", success=True, score=0.9, action="signup", hostname="app.example")
    assert _start(client, raw, "a").status_code == 403
    assert _start(client, raw, "b").status_code == 201


def test_token_is_accepted_once(client, recaptcha_key, siteverify):
    _, raw = recaptcha_key
    siteverify.answer("once", success=True, score=0.9, action="signup", hostname="signup.example")
    assert _start(client, raw, "once").status_code == 201
    response = _start(client, raw, "once")
    assert response.status_code == 403
    assert response.json()["code"] == "challenge_replayed"
    assert len(siteverify.requests) == 1  # the replay never reached Google


def test_missing_token_is_refused_without_asking_google(client, recaptcha_key, siteverify):
    _, raw = recaptcha_key
    response = _start(client, raw, "")
    assert response.status_code == 403
    assert response.json()["code"] == "recaptcha_failed"
    assert siteverify.requests == []


def test_google_unreachable_is_503_not_500(client, recaptcha_key, siteverify, settings):
    settings.RECAPTCHA_DOMAIN = "127.0.0.1:1"  # nothing listens there
    _, raw = recaptcha_key
    response = _start(client, raw, "tok")
    assert response.status_code == 503
    assert response.json()["code"] == "recaptcha_unavailable"
    assert SecurityEvent.objects.get(kind="recaptcha_unavailable").reason == "fail_closed"


def test_google_slow_is_cut_off_by_the_timeout(client, recaptcha_key, siteverify):
    _, raw = recaptcha_key
    siteverify.hang.set()  # accepts the connection, never answers
    response = _start(client, raw, "tok")
    assert response.status_code == 503
    assert response.json()["code"] == "recaptcha_unavailable"


def test_google_dripping_its_answer_is_cut_off_by_a_total_deadline(
    client, recaptcha_key, siteverify
):
    # The attack, scaled down: one byte every 2 s against the 3 s default
    # becomes one every 0.5 s against 1 s. Each read beats a per-read timeout,
    # so only a total deadline ends the wait (before: 15 s for 30 bytes).
    _, raw = recaptcha_key
    siteverify.answer("tok", success=True, score=0.9, action="signup", hostname="signup.example")
    siteverify.drip_interval = 0.5
    started = time.monotonic()
    response = _start(client, raw, "tok")
    assert time.monotonic() - started < 2.0
    assert response.status_code == 503
    assert response.json()["code"] == "recaptcha_unavailable"


def test_google_answering_nonsense_is_503(client, recaptcha_key, siteverify):
    _, raw = recaptcha_key
    siteverify.raw_body = b"<html>oops</html>"
    assert _start(client, raw, "tok").status_code == 503


def test_fail_open_accepts_when_google_is_down(client, recaptcha_key, siteverify, settings):
    settings.RECAPTCHA_DOMAIN = "127.0.0.1:1"
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RECAPTCHA_FAIL_OPEN": True}
    _, raw = recaptcha_key
    assert _start(client, raw, "tok").status_code == 201
    event = SecurityEvent.objects.get(kind="recaptcha_unavailable")
    assert (event.decision, event.reason) == ("alert", "fail_open")


@pytest.mark.usefixtures("easy_pow")
def test_pow_and_recaptcha_both_required(client, make_api_key, siteverify):
    _, raw = make_api_key(
        required_verifications=["pow", "recaptcha"],
        allowed_origins=[ORIGIN],
        recaptcha_action="signup",
    )
    siteverify.answer("t", success=True, score=0.9, action="signup", hostname="signup.example")
    challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw, HTTP_ORIGIN=ORIGIN).json()
    assert challenge["requires"] == ["pow", "recaptcha"]
    without_pow = _start(client, raw, "t")
    assert without_pow.json()["code"] == "challenge_failed"
    assert siteverify.requests == []  # proof of work is checked first, offline
    response = client.post(
        "/api/v1/sessions",
        {"altcha": solve(challenge["altcha"]), "recaptcha_token": "t"},
        format="json", HTTP_X_API_KEY=raw, HTTP_ORIGIN=ORIGIN,
    )  # fmt: skip
    assert response.status_code == 201


def test_deploy_check_flags_google_test_keys(settings):
    settings.DEBUG = False
    settings.RECAPTCHA_PUBLIC_KEY, settings.RECAPTCHA_PRIVATE_KEY = (
        TEST_PUBLIC_KEY,
        TEST_PRIVATE_KEY,
    )
    errors = check_recaptcha_keys(None)
    assert [e.id for e in errors] == ["protection.E004"]
    assert errors[0].level == checks.ERROR
    settings.RECAPTCHA_PUBLIC_KEY, settings.RECAPTCHA_PRIVATE_KEY = "site", "secret"
    assert check_recaptcha_keys(None) == []
    settings.DEBUG = True
    settings.RECAPTCHA_PUBLIC_KEY, settings.RECAPTCHA_PRIVATE_KEY = (
        TEST_PUBLIC_KEY,
        TEST_PRIVATE_KEY,
    )
    assert check_recaptcha_keys(None) == []


def test_deploy_check_runs_through_manage_py_check(settings):
    settings.DEBUG = False
    settings.RECAPTCHA_PRIVATE_KEY = TEST_PRIVATE_KEY
    ids = [message.id for message in checks.run_checks(include_deployment_checks=True)]
    assert "protection.E004" in ids
