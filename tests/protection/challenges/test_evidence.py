"""What a caller (the risk ladder) can ask of challenges: per-request requirements on
top of the key's floor, the key's CAPTCHA, and what was shown."""

import pytest

from protection.base.exceptions import ProtectionError
from protection.challenges import (
    ChallengeEvidence,
    api_key_captcha,
    challenge_issue,
    challenge_verify,
    evidence_required,
)
from tests.support.captcha import TURNSTILE_SITE_KEY, fake_captcha_fixture  # noqa: F401
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401

pytestmark = pytest.mark.django_db

ORIGIN = "https://signup.example"


def test_the_floor_stays_and_captcha_means_the_keys_own(make_api_key):
    key, _ = make_api_key(required_verifications=["pow", "dpop"], captcha="hcaptcha")
    assert api_key_captcha(key) == "hcaptcha"
    assert evidence_required(api_key=key) == ("pow", "dpop")
    assert evidence_required(api_key=key, add=["captcha", "pow", "pat"]) == (
        "pow", "dpop", "hcaptcha", "pat"
    )  # fmt: skip


def test_captcha_for_a_key_without_one_is_the_callers_decision(make_api_key):
    key, _ = make_api_key(required_verifications=["pow"])
    assert api_key_captcha(key) is None
    with pytest.raises(ValueError, match="no CAPTCHA"):
        evidence_required(api_key=key, add=["captcha"])
    with pytest.raises(ValueError, match="Unknown"):
        evidence_required(api_key=key, add=["pow_hard"])


@pytest.mark.usefixtures("easy_pow")
def test_a_captcha_can_be_required_for_one_request(make_api_key, client, fake_captcha):
    key, raw = make_api_key(
        required_verifications=["pow"], captcha="turnstile", allowed_origins=[ORIGIN]
    )
    fake_captcha.answer("turnstile", "tok", success=True, hostname="signup.example",
                        action="signup")  # fmt: skip
    body = challenge_issue(api_key=key, client_ip="198.51.100.60", required=["captcha"])
    assert body["requires"] == ["pow", "turnstile"]
    assert body["turnstile_site_key"] == TURNSTILE_SITE_KEY
    pow_only = ChallengeEvidence(altcha=solve(body["altcha"]))
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(
            api_key=key, client_ip="198.51.100.60", evidence=pow_only, required=["captcha"]
        )
    assert refused.value.code == "captcha_failed"
    both = ChallengeEvidence(
        altcha=solve(challenge_issue(api_key=key, client_ip=None)["altcha"]),
        turnstile_token="tok",
    )
    outcome = challenge_verify(
        api_key=key, client_ip="198.51.100.60", evidence=both, required=["captcha"]
    )
    assert outcome.shown == {"pow", "turnstile"} and outcome.observed == ()


@pytest.mark.usefixtures("easy_pow")
def test_the_floor_applies_whatever_the_caller_asks(make_api_key):
    key, _ = make_api_key(required_verifications=["pow"])
    with pytest.raises(ProtectionError) as refused:
        challenge_verify(api_key=key, client_ip=None, evidence=ChallengeEvidence(), required=[])
    assert refused.value.code == "challenge_failed"


def test_observe_mode_reports_what_it_let_through(make_api_key):
    key, _ = make_api_key(required_verifications=["pow"], verifications_dry_run=True)
    outcome = challenge_verify(api_key=key, client_ip=None, evidence=ChallengeEvidence())
    assert outcome.shown == frozenset() and outcome.observed == ("challenge_failed",)
