"""Approov tokens: minted here with a random secret (and a generated EC key)."""

import base64
import datetime
import os

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protection.attestation import attestation_verify
from protection.base.exceptions import ProtectionError
from protection.checks import check_attestation_settings
from protection.core.events import SecurityEvent
from protection.startup import configuration_problems
from tests.support.approov import RAW_KEY, refused, token, verify
from tests.support.attestation import (
    NOW,
    b64url,
    hmac_token,
    sha256_b64,
    unsigned_token,
)

pytestmark = pytest.mark.django_db

EC_PRIVATE = ec.generate_private_key(ec.SECP256R1())
EC_PUBLIC_PEM = (
    EC_PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def test_valid_token_passes_and_names_the_device(key, secret):
    result = verify(key, token(secret))
    assert result.verified == ("approov",)
    assert result.device_id == "ZGV2aWNlLTE="


@pytest.mark.parametrize(
    "encode",
    [
        lambda raw: base64.b64encode(raw).decode(),
        lambda raw: base64.urlsafe_b64encode(raw).decode(),
        lambda raw: base64.urlsafe_b64encode(raw).decode().rstrip("="),
    ],
    ids=["base64", "base64url", "base64url-unpadded"],
)
def test_secret_is_read_in_either_alphabet(settings, make_api_key, encode):
    raw = os.urandom(33) + b"\xfb\xff"  # bytes whose encodings differ between alphabets
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": encode(raw)}
    api_key, _ = make_api_key(required_verifications=["approov"])
    assert verify(api_key, token(raw)).verified == ("approov",)


def test_forged_token_is_refused(key):
    assert refused(key, token(os.urandom(32))) == "approov_bad_signature"


def test_tampered_claims_are_refused(key, secret):
    header, _, signature = token(secret).split(".")
    forged_claims = b64url(b'{"exp": 9999999999, "did": "other", "pay": "x"}')
    assert refused(key, f"{header}.{forged_claims}.{signature}") == "approov_bad_signature"


def test_expired_token_is_refused_after_the_leeway(key, secret):
    expires = int(NOW.timestamp()) - 3
    assert verify(key, token(secret, exp=expires)).verified == ("approov",)  # 5 s leeway
    late = NOW + datetime.timedelta(seconds=10)
    assert refused(key, token(secret, exp=expires), now=late) == "approov_expired"
    # A verified but expired token still names its device, so device rules count it.
    assert SecurityEvent.objects.latest("id").details["device_id"] == "ZGV2aWNlLTE="


def test_token_without_exp_is_refused(key, secret):
    assert refused(key, token(secret, exp=None)) == "approov_exp_missing"
    assert refused(key, token(secret, exp="tomorrow")) == "approov_exp_missing"


def test_alg_none_is_refused(key):
    forged = unsigned_token({"alg": "none", "typ": "JWT"}, {"exp": 9999999999, "did": "x"})
    assert refused(key, forged) == "approov_alg_not_allowed"


def test_other_hmac_algorithms_are_refused(key, secret):
    assert refused(key, token(secret * 2, algorithm="HS512")) == "approov_alg_not_allowed"


@pytest.fixture
def public_key_too(settings, secret):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_PUBLIC_KEY": EC_PUBLIC_PEM,
        "APPROOV_PUBLIC_KEY_ALGORITHM": "ES256",
    }


def test_configured_asymmetric_algorithm_is_accepted(key, public_key_too):
    assert verify(key, token(EC_PRIVATE, algorithm="ES256")).verified == ("approov",)


def test_asymmetric_token_from_another_key_is_refused(key, public_key_too):
    other = ec.generate_private_key(ec.SECP256R1())
    assert refused(key, token(other, algorithm="ES256")) == "approov_bad_signature"


def test_asymmetric_token_is_refused_when_no_public_key_is_configured(key):
    assert refused(key, token(EC_PRIVATE, algorithm="ES256")) == "approov_alg_not_allowed"


def test_hs256_keyed_with_the_public_key_is_refused(key, public_key_too):
    claims = {"exp": int(NOW.timestamp()) + 300, "pay": sha256_b64(RAW_KEY)}
    confused = hmac_token({"alg": "HS256", "typ": "JWT"}, claims, EC_PUBLIC_PEM.encode())
    assert refused(key, confused) == "approov_bad_signature"


def test_hs256_keyed_with_the_public_key_is_refused_without_a_secret(settings, make_api_key):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_SECRET": "",
        "APPROOV_PUBLIC_KEY": EC_PUBLIC_PEM,
        "APPROOV_PUBLIC_KEY_ALGORITHM": "ES256",
    }
    api_key, _ = make_api_key(required_verifications=["approov"])
    claims = {"exp": int(NOW.timestamp()) + 300, "pay": sha256_b64(RAW_KEY)}
    confused = hmac_token({"alg": "HS256", "typ": "JWT"}, claims, EC_PUBLIC_PEM.encode())
    assert refused(api_key, confused) == "approov_alg_not_allowed"


# --- token binding ("pay") ------------------------------------------------------------


@pytest.mark.parametrize(
    "encode",
    [
        lambda digest: base64.b64encode(digest).decode(),
        lambda digest: base64.b64encode(digest).decode().rstrip("="),
        lambda digest: base64.urlsafe_b64encode(digest).decode(),
    ],
    ids=["base64", "unpadded", "base64url"],
)
def test_pay_is_read_in_either_alphabet(key, secret, encode):
    import hashlib

    pay = encode(hashlib.sha256(RAW_KEY.encode()).digest())
    assert verify(key, token(secret, pay=pay)).verified == ("approov",)


def test_pay_bound_to_another_api_key_is_refused(key, secret):
    assert refused(key, token(secret, pay=sha256_b64("gh_pub_other"))) == "approov_pay_mismatch"
    assert refused(key, token(secret, pay="not base64!")) == "approov_pay_mismatch"


def test_missing_pay_is_refused_unless_failover_is_allowed(key, secret, settings):
    assert refused(key, token(secret, pay=None)) == "approov_pay_missing"
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_ALLOW_MISSING_PAY": True}
    assert verify(key, token(secret, pay=None)).verified == ("approov",)
    # Failover covers a missing pay, never a wrong one.
    assert refused(key, token(secret, pay=sha256_b64("x"))) == "approov_pay_mismatch"


def test_on_requests_pay_binds_the_authorization_header(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["approov"], attest_every_request=True)
    authorization = "Bearer eyJhbGciOi.example.access"
    bound = token(secret, pay=sha256_b64(authorization))
    result = verify(api_key, bound, purpose="request", Authorization=authorization)
    assert result.verified == ("approov",)
    # The session-time binding (X-Api-Key) does not carry over to later requests.
    session_bound = token(secret)
    reason = refused(api_key, session_bound, purpose="request", Authorization=authorization)
    assert reason == "approov_pay_mismatch"


def test_pay_without_the_bound_header_is_refused(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["approov"], attest_every_request=True)
    assert refused(api_key, token(secret), purpose="request") == "approov_pay_unbound"


def test_explicit_bound_value_wins(key, secret):
    result = attestation_verify(
        api_key=key,
        evidence={"approov-token": token(secret, pay=sha256_b64("chosen"))},
        purpose="session",
        bound_value="chosen",
        now=NOW,
    )
    assert result.verified == ("approov",)


# --- missing, garbage, configuration ----------------------------------------------------


def test_missing_token_is_attestation_required(key):
    with pytest.raises(ProtectionError) as excinfo:
        attestation_verify(api_key=key, evidence={"X-Api-Key": RAW_KEY}, purpose="session")
    assert (excinfo.value.code, excinfo.value.status) == ("attestation_required", 403)
    assert "approov-token" in excinfo.value.detail
    event = SecurityEvent.objects.latest("id")
    assert (event.kind, event.decision, event.reason) == (
        "attestation_failed",
        "deny",
        "approov_missing",
    )


@pytest.mark.parametrize("garbage", ["x", "a.b.c", "é.é.é", "eyJ" * 3000, "..."])
def test_garbage_is_invalid_not_an_error(key, garbage):
    assert refused(key, garbage) == "approov_malformed"


def test_header_name_is_configurable(settings, key, secret):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_HEADER": "X-Approov"}
    evidence = {"X-Approov": token(secret), "X-Api-Key": RAW_KEY}
    result = attestation_verify(api_key=key, evidence=evidence, purpose="session", now=NOW)
    assert result.verified == ("approov",)


def test_a_key_can_use_a_named_secret(settings, make_api_key, secret):
    shop_secret = os.urandom(32)
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRETS": {"shop": b64url(shop_secret)}}
    api_key, _ = make_api_key(
        required_verifications=["approov"], attestation_overrides={"approov_secret": "shop"}
    )
    assert verify(api_key, token(shop_secret)).verified == ("approov",)
    assert refused(api_key, token(secret)) == "approov_bad_signature"


def test_required_but_not_configured_is_unavailable(settings, make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["approov"])
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": ""}
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, token(secret))
    assert (excinfo.value.code, excinfo.value.status) == ("attestation_unavailable", 503)
    event = SecurityEvent.objects.latest("id")
    assert (event.kind, event.decision, event.reason) == (
        "attestation_unavailable",
        "alert",
        "approov_not_configured",
    )


# --- start-up refusal ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [b64url(os.urandom(31)), "not base64 at all!", "a"],
    ids=["31-bytes", "undecodable", "one-char"],
)
def test_short_or_undecodable_secret_is_refused_at_start_up(settings, value):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": value}
    assert [error.id for error in check_attestation_settings(None)] == ["protection.E006"]
    assert [problem.split(":", 1)[0] for problem in configuration_problems()] == ["protection.E006"]


def test_named_secrets_and_public_key_are_checked_too(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_SECRET": b64url(os.urandom(32)),
        "APPROOV_SECRETS": {"shop": b64url(os.urandom(8))},
        "APPROOV_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
        "APPROOV_PUBLIC_KEY_ALGORITHM": "ES256",
    }
    messages = [error.msg for error in check_attestation_settings(None)]
    assert len(messages) == 2
    assert "'shop'" in messages[0] and "APPROOV_PUBLIC_KEY" in messages[1]


def test_good_settings_pass_the_check(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_SECRET": base64.b64encode(os.urandom(32)).decode(),
        "APPROOV_PUBLIC_KEY": EC_PUBLIC_PEM,
        "APPROOV_PUBLIC_KEY_ALGORITHM": "ES256",
    }
    assert check_attestation_settings(None) == []
    assert configuration_problems() == []
