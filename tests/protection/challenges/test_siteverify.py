"""The shared siteverify client: one breaker per provider, in each process."""

import pytest

from protection.challenges.siteverify import (
    siteverify_breaker_open,
    siteverify_outcome_record,
)
from protection.core.events import SecurityEvent
from tests.support.captcha import fake_captcha_fixture  # noqa: F401
from tests.support.challenges import (  # noqa: F401
    localhost_cert_fixture,
    siteverify_fixture,
)

pytestmark = pytest.mark.django_db

ORIGIN = "https://signup.example"


def start(client, raw_key, field, token):
    return client.post(
        "/api/v1/sessions",
        {field: token},
        format="json",
        HTTP_X_API_KEY=raw_key,
        HTTP_ORIGIN=ORIGIN,
        REMOTE_ADDR="198.51.100.40",
    )


def test_the_breaker_opens_after_failures_in_a_row_and_closes_after_its_pause(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "CAPTCHA_BREAKER_FAILURES": 3,
        "CAPTCHA_BREAKER_PAUSE": 10,
    }
    for _ in range(2):
        siteverify_outcome_record("turnstile", ok=False, now=100.0)
    assert not siteverify_breaker_open("turnstile", now=100.0)
    siteverify_outcome_record("turnstile", ok=False, now=100.0)
    assert siteverify_breaker_open("turnstile", now=105.0)
    assert not siteverify_breaker_open("hcaptcha", now=105.0)  # one breaker per provider
    assert not siteverify_breaker_open("turnstile", now=110.5)


def test_a_success_resets_the_count(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "CAPTCHA_BREAKER_FAILURES": 2}
    siteverify_outcome_record("hcaptcha", ok=False, now=1.0)
    siteverify_outcome_record("hcaptcha", ok=True, now=2.0)
    siteverify_outcome_record("hcaptcha", ok=False, now=3.0)
    assert not siteverify_breaker_open("hcaptcha", now=3.0)


def test_an_outage_costs_one_deadline_per_pause_not_one_per_request(
    client, make_api_key, fake_captcha, settings
):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "CAPTCHA_BREAKER_FAILURES": 1}
    _, raw = make_api_key(required_verifications=["turnstile"], allowed_origins=[ORIGIN])
    fake_captcha.hang.set()
    codes = [start(client, raw, "turnstile_token", f"t{n}").json()["code"] for n in range(3)]
    assert codes == ["captcha_unavailable"] * 3
    # The first call waited for its deadline; the breaker answered the others at once.
    assert len(fake_captcha.requests["turnstile"]) == 1
    assert SecurityEvent.objects.filter(kind="captcha_unavailable").count() == 3
    # hCaptcha is another provider: its breaker is still closed.
    _, other = make_api_key(required_verifications=["hcaptcha"], allowed_origins=[ORIGIN])
    start(client, other, "hcaptcha_token", "h1")
    assert len(fake_captcha.requests["hcaptcha"]) == 1


def test_recaptcha_has_its_breaker_too(client, make_api_key, siteverify, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "CAPTCHA_BREAKER_FAILURES": 1}
    _, raw = make_api_key(required_verifications=["recaptcha"], allowed_origins=[ORIGIN])
    siteverify.hang.set()
    codes = [start(client, raw, "recaptcha_token", f"r{n}").json()["code"] for n in range(2)]
    assert codes == ["recaptcha_unavailable"] * 2
    assert len(siteverify.requests) == 1
