"""Firebase App Check tokens, verified against a local JWKS server (fetches counted)."""

import datetime
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from protection.attestation import attestation_verify
from protection.attestation.jwks import JwksCache, http_request
from protection.base.exceptions import ProtectionError
from protection.checks import check_attestation_settings
from protection.core.events import SecurityEvent
from tests.support.attestation import (
    APP_ID,
    NOW,
    PROJECT_NUMBER,
    JwksServer,
    app_check_token,
    hmac_token,
    jwks_document,
    rsa_key,
    unsigned_token,
)

pytestmark = pytest.mark.django_db

KEY = rsa_key()
OTHER_KEY = rsa_key()
COOLDOWN = 60


@pytest.fixture
def jwks():
    with JwksServer(jwks_document({"kid-1": KEY})) as server:
        yield server


@pytest.fixture
def configured(settings, jwks):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPCHECK_PROJECT_NUMBER": PROJECT_NUMBER,
        "APPCHECK_APP_IDS": [APP_ID],
        "APPCHECK_JWKS_URL": jwks.url + "/jwks",
        "APPCHECK_JWKS_REFETCH_COOLDOWN": COOLDOWN,
    }
    return jwks


@pytest.fixture
def key(make_api_key, configured):
    api_key, _ = make_api_key(required_verifications=["app_check"])
    return api_key


def at(seconds: float) -> datetime.datetime:
    return NOW + datetime.timedelta(seconds=seconds)


def verify(api_key, token: str, *, now=NOW):
    return attestation_verify(
        api_key=api_key,
        evidence={"X-Firebase-AppCheck": token},
        purpose="session",
        client_ip="198.51.100.4",
        now=now,
    )


def refused(api_key, token: str, *, code="attestation_invalid", now=NOW) -> str:
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, token, now=now)
    assert excinfo.value.code == code
    assert excinfo.value.extra == {"verifier": "app_check"}
    # (the latest attestation event: a flood also records the automatic IP block)
    event = SecurityEvent.objects.filter(kind__startswith="attestation").latest("id")
    assert event.details["verifier"] == "app_check"
    return event.reason


def test_valid_token_passes_with_one_fetch(key, configured):
    assert verify(key, app_check_token(KEY)).verified == ("app_check",)
    assert verify(key, app_check_token(KEY)).device_id is None
    assert configured.fetches == 1  # the second verification used the cached keys


def test_token_signed_by_another_key_is_refused(key):
    assert refused(key, app_check_token(OTHER_KEY)) == "app_check_bad_signature"


@pytest.mark.parametrize(
    "issuer",
    [
        "https://firebaseappcheck.googleapis.com/999999999999",
        "https://firebaseappcheck.googleapis.com/demo-project",
        f"https://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}/",
        f"http://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}",
        None,
    ],
)
def test_wrong_issuer_is_refused(key, issuer):
    assert refused(key, app_check_token(KEY, iss=issuer)) == "app_check_iss_mismatch"


@pytest.mark.parametrize(
    "audience",
    [
        f"projects/{PROJECT_NUMBER}",  # a string, not the list Firebase issues
        ["projects/999999999999", "projects/other"],
        [],
        None,
    ],
)
def test_wrong_audience_is_refused(key, audience):
    assert refused(key, app_check_token(KEY, aud=audience)) == "app_check_aud_mismatch"


def test_expired_token_is_refused(key):
    expires = int(NOW.timestamp()) + 3600
    assert refused(key, app_check_token(KEY), now=at(3600 + 6)) == "app_check_expired"
    assert verify(key, app_check_token(KEY), now=at(3600 + 4)).verified  # leeway
    assert expires  # the token's exp is NOW + 1 h


def test_token_without_exp_is_refused(key):
    assert refused(key, app_check_token(KEY, exp=None)) == "app_check_exp_missing"


def test_app_not_on_the_allow_list_is_refused(key):
    token = app_check_token(KEY, sub="1:123456789012:ios:ffff")
    assert refused(key, token) == "app_check_app_not_allowed"


def test_a_key_can_add_app_ids(make_api_key, configured):
    ios_app = "1:123456789012:ios:ffff"
    api_key, _ = make_api_key(
        required_verifications=["app_check"],
        attestation_overrides={"app_check_app_ids": [ios_app]},
    )
    assert verify(api_key, app_check_token(KEY, sub=ios_app)).verified == ("app_check",)
    assert verify(api_key, app_check_token(KEY)).verified == ("app_check",)  # global list too


@pytest.mark.parametrize("typ", ["JWS", "at+jwt", None])
def test_wrong_typ_is_refused(key, typ):
    token = app_check_token(KEY, header={"typ": typ})
    assert refused(key, token) == "app_check_typ_invalid"


def test_alg_none_is_refused(key, configured):
    claims = {"iss": f"https://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}", "sub": APP_ID}
    forged = unsigned_token({"alg": "none", "typ": "JWT", "kid": "kid-1"}, claims)
    assert refused(key, forged) == "app_check_alg_not_allowed"
    assert configured.fetches == 0  # refused before any key was needed


def test_hs256_keyed_with_the_public_key_is_refused(key):
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = {
        "iss": f"https://firebaseappcheck.googleapis.com/{PROJECT_NUMBER}",
        "aud": [f"projects/{PROJECT_NUMBER}"],
        "sub": APP_ID,
        "exp": int(NOW.timestamp()) + 3600,
    }
    forged = hmac_token({"alg": "HS256", "typ": "JWT", "kid": "kid-1"}, claims, public_pem)
    assert refused(key, forged) == "app_check_alg_not_allowed"


def test_other_rsa_algorithms_are_refused(key):
    token = jwt.encode(
        {"sub": APP_ID}, KEY, algorithm="RS512", headers={"typ": "JWT", "kid": "kid-1"}
    )
    assert refused(key, token) == "app_check_alg_not_allowed"


def test_token_without_kid_is_refused(key):
    token = jwt.encode({"sub": APP_ID}, KEY, algorithm="RS256", headers={"typ": "JWT"})
    assert refused(key, token) == "app_check_kid_missing"


@pytest.mark.parametrize("garbage", ["x", "a.b.c", "eyJ" * 3000])
def test_garbage_is_invalid_not_an_error(key, garbage):
    assert refused(key, garbage) == "app_check_malformed"


# --- the JWKS cache ------------------------------------------------------------------------


def test_an_unknown_kid_flood_costs_one_fetch_per_cooldown(key, configured):
    assert verify(key, app_check_token(KEY)).verified
    for _ in range(200):
        forged = app_check_token(OTHER_KEY, kid=uuid.uuid4().hex)
        assert refused(key, forged) == "app_check_unknown_kid"
    assert configured.fetches == 1  # the first fetch started the cooldown
    for second in range(COOLDOWN + 1, COOLDOWN + 31):
        refused(key, app_check_token(OTHER_KEY, kid=uuid.uuid4().hex), now=at(second))
    assert configured.fetches == 2  # one refetch once the cooldown was over, no more


def test_a_new_signing_key_is_picked_up_after_the_cooldown(key, configured):
    assert verify(key, app_check_token(KEY)).verified
    configured.document = jwks_document({"kid-1": KEY, "kid-2": OTHER_KEY})
    rotated = app_check_token(OTHER_KEY, kid="kid-2")
    assert refused(key, rotated, now=at(10)) == "app_check_unknown_kid"
    assert verify(key, rotated, now=at(COOLDOWN + 1)).verified == ("app_check",)
    assert configured.fetches == 2


def test_keys_are_kept_for_max_age(key, configured):
    configured.cache_control = "public, max-age=300"
    assert verify(key, app_check_token(KEY)).verified
    assert verify(key, app_check_token(KEY), now=at(299)).verified
    assert configured.fetches == 1
    assert verify(key, app_check_token(KEY), now=at(301)).verified
    assert configured.fetches == 2


def test_keys_are_kept_six_hours_at_most(key, configured):
    configured.cache_control = "public, max-age=604800"
    assert verify(key, app_check_token(KEY)).verified
    token = app_check_token(KEY, now=at(6 * 3600))
    assert verify(key, token, now=at(6 * 3600 - 1)).verified
    assert configured.fetches == 1
    assert verify(key, token, now=at(6 * 3600 + 1)).verified
    assert configured.fetches == 2


def test_six_hours_is_a_hard_cap_whatever_the_setting(key, configured, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPCHECK_JWKS_MAX_AGE": 7 * 24 * 3600}
    configured.cache_control = "public, max-age=604800"
    token = app_check_token(KEY, now=at(6 * 3600))
    assert verify(key, token).verified
    assert verify(key, token, now=at(6 * 3600 + 1)).verified
    assert configured.fetches == 2


class BrokenCache:
    """A shared cache that is down: every call fails."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache down")

        return fail


def test_with_the_shared_cache_down_each_process_still_keeps_the_cooldown(
    key, configured, monkeypatch
):
    monkeypatch.setattr("protection.attestation.jwks.cache", BrokenCache())
    assert verify(key, app_check_token(KEY)).verified
    for second in range(1, 51):
        forged = app_check_token(OTHER_KEY, kid=uuid.uuid4().hex)
        assert refused(key, forged, now=at(second)) == "app_check_unknown_kid"
    assert configured.fetches == 1


def test_a_failed_fetch_keeps_the_keys_held(key, configured):
    configured.cache_control = "max-age=300"
    assert verify(key, app_check_token(KEY)).verified
    configured.status = 500
    assert verify(key, app_check_token(KEY), now=at(400)).verified  # stale keys, still fine
    assert verify(key, app_check_token(KEY), now=at(420)).verified
    assert configured.fetches == 2  # one failed try, then the cooldown
    configured.status = 200
    assert verify(key, app_check_token(KEY), now=at(400 + COOLDOWN + 1)).verified
    assert configured.fetches == 3


def test_no_keys_at_all_is_unavailable_not_invalid(key, configured):
    configured.status = 503
    with pytest.raises(ProtectionError) as excinfo:
        verify(key, app_check_token(KEY))
    assert (excinfo.value.code, excinfo.value.status) == ("attestation_unavailable", 503)
    event = SecurityEvent.objects.latest("id")
    assert (event.kind, event.decision, event.reason) == (
        "attestation_unavailable",
        "alert",
        "app_check_jwks_unavailable",
    )


def test_other_processes_load_the_keys_from_the_shared_cache(key, configured):
    assert verify(key, app_check_token(KEY)).verified
    other_process = JwksCache()
    url = configured.url + "/jwks"
    assert other_process.key_for(url=url, kid="kid-1", now=NOW.timestamp()) is not None
    assert configured.fetches == 1


def test_other_processes_do_not_refetch_within_the_cooldown(key, configured):
    assert verify(key, app_check_token(KEY)).verified
    url = configured.url + "/jwks"
    for _ in range(5):  # five more processes, each asked for an unknown kid
        assert JwksCache().key_for(url=url, kid="nope", now=at(1).timestamp()) is None
    assert configured.fetches == 1


def test_only_http_urls_are_fetched():
    with pytest.raises(ValueError):
        http_request("file:///etc/passwd", 1.0)


# --- limited-use tokens -------------------------------------------------------------------


@pytest.fixture
def consuming(settings, configured):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPCHECK_CONSUME_URL": configured.url + "/v1/projects/{project_number}:consume",
        "APPCHECK_CONSUME_BEARER": "test-bearer",
    }
    return configured


def test_limited_use_token_is_consumed(key, consuming):
    token = app_check_token(KEY)
    assert verify(key, token).verified == ("app_check",)
    assert consuming.consume_bodies == [{"app_check_token": token}]
    assert consuming.consume_auth == ["Bearer test-bearer"]


def test_consumed_token_is_replayed(key, consuming):
    consuming.consumed = True
    reason = refused(key, app_check_token(KEY), code="attestation_replayed")
    assert reason == "app_check_consumed"
    assert SecurityEvent.objects.latest("id").kind == "attestation_replayed"


def test_consumption_endpoint_down_is_unavailable(key, consuming):
    consuming.consume_status = 500
    with pytest.raises(ProtectionError) as excinfo:
        verify(key, app_check_token(KEY))
    assert excinfo.value.code == "attestation_unavailable"


# --- configuration ------------------------------------------------------------------------


def test_settings_that_cannot_work_are_refused_at_start_up(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPCHECK_PROJECT_NUMBER": "my-project-id",
        "APPCHECK_JWKS_URL": "http://keys.example/jwks",
    }
    assert [error.id for error in check_attestation_settings(None)] == [
        "protection.E007",
        "protection.E007",
    ]


def test_required_but_not_configured_is_unavailable(settings, make_api_key):
    api_key, _ = make_api_key(required_verifications=["app_check"])
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPCHECK_PROJECT_NUMBER": ""}
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, app_check_token(KEY))
    assert excinfo.value.code == "attestation_unavailable"
