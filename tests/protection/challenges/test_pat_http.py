"""Private Access Tokens at session start, end to end through the HTTP API.

The test issuer signs tokens for the challenges gatehouse sends in its 401s,
as Apple's or Cloudflare's issuers do for a device (RFC 9577 / 9578).
"""

import pytest

from protection.challenges import ChallengeEvidence, SpentChallenge, challenge_verify
from protection.challenges.pat import pat_challenge_build, pat_challenges_remember
from protection.challenges.patissuers import b64url_encode
from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.cache import cache_clear
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401
from tests.support.pat import PatIssuerKey, pat_challenge_fields, pat_challenges_parse
from tests.support.pat_vectors import ISSUER_NAME, PUBLIC_KEY_HEX, VECTORS

pytestmark = pytest.mark.django_db

BASE_URL = "https://signup-api.example"


@pytest.fixture(scope="module")
def issuer():
    return PatIssuerKey(name="issuer.example")


@pytest.fixture(scope="module")
def other_issuer():
    return PatIssuerKey(name="other-issuer.example")


@pytest.fixture(autouse=True)
def pat_settings(settings, issuer, other_issuer):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PAT_ISSUERS": [issuer.entry, other_issuer.entry],
        "PUBLIC_BASE_URL": BASE_URL,
    }


@pytest.fixture
def pat_key(make_api_key):
    return make_api_key(required_verifications=["pat"])


def start(client, raw_key, token=None, **body):
    headers = {"HTTP_AUTHORIZATION": f'PrivateToken token="{token}"'} if token else {}
    return client.post(
        "/api/v1/sessions",
        body,
        format="json",
        HTTP_X_API_KEY=raw_key,
        REMOTE_ADDR="198.51.100.50",
        **headers,
    )


def challenge_for(response, issuer_name="issuer.example"):
    """The TokenChallenge a client picks from a 401 for ``issuer_name``."""
    for challenge, _key in pat_challenges_parse(response["WWW-Authenticate"]):
        if pat_challenge_fields(challenge)["issuer_name"] == issuer_name:
            return challenge
    raise AssertionError(f"no challenge for {issuer_name}")


def test_a_missing_token_is_401_carrying_a_challenge_per_issuer(client, pat_key, issuer):
    _, raw = pat_key
    response = start(client, raw)
    assert response.status_code == 401
    assert response.json()["code"] == "pat_required"
    challenges = pat_challenges_parse(response["WWW-Authenticate"])
    assert [key for _, key in challenges][0] == issuer.token_key
    fields = pat_challenge_fields(challenges[0][0])
    assert fields["token_type"] == 2
    assert fields["origin_info"] == "signup-api.example"
    assert len(fields["redemption_context"]) == 32
    # The handshake is not a refusal worth an event (nor a reason to raise difficulty).
    assert not SecurityEvent.objects.exclude(kind="api_key_lifecycle").exists()


def test_a_valid_token_starts_a_session(client, pat_key, issuer):
    _, raw = pat_key
    token = issuer.token(challenge_for(start(client, raw)))
    response = start(client, raw, token)
    assert response.status_code == 201, response.content
    assert AnonymousSession.objects.count() == 1
    assert SpentChallenge.objects.filter(kind="pat").count() == 1


def test_either_configured_issuer_works(client, pat_key, other_issuer):
    _, raw = pat_key
    challenge = challenge_for(start(client, raw), "other-issuer.example")
    assert start(client, raw, other_issuer.token(challenge)).status_code == 201


def test_a_replayed_token_is_refused_with_a_new_challenge(client, pat_key, issuer):
    _, raw = pat_key
    token = issuer.token(challenge_for(start(client, raw)))
    assert start(client, raw, token).status_code == 201
    replay = start(client, raw, token)
    assert replay.status_code == 401
    assert replay.json()["code"] == "pat_replayed"
    assert pat_challenges_parse(replay["WWW-Authenticate"])  # the client may fetch a fresh one
    event = SecurityEvent.objects.get(kind="challenge_replayed")
    assert (event.decision, event.reason, event.details["issuer"]) == (
        "deny", "pat_replayed", "issuer.example"
    )  # fmt: skip
    assert AnonymousSession.objects.count() == 1


def test_a_second_token_for_a_redeemed_challenge_is_a_replay_too(client, pat_key, issuer):
    """One challenge buys one session, whatever nonces its tokens carry."""
    _, raw = pat_key
    challenge = challenge_for(start(client, raw))
    assert start(client, raw, issuer.token(challenge)).status_code == 201
    assert start(client, raw, issuer.token(challenge)).json()["code"] == "pat_replayed"


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        # Signed by a key that is not the issuer's, claiming the issuer's key id.
        (lambda challenge, issuer: PatIssuerKey().token(challenge, key_id=issuer.key_id),
         "pat_signature"),
        # A genuine signature by a key nobody configured.
        (lambda challenge, issuer: PatIssuerKey().token(challenge), "pat_unknown_key"),
        # A valid token for a challenge gatehouse never issued.
        (lambda challenge, issuer: issuer.token(challenge + b"x"), "pat_unknown_challenge"),
        (lambda challenge, issuer: issuer.token(challenge, token_type=1), "pat_token_type"),
        (lambda challenge, issuer: "bm90IGEgdG9rZW4=", "pat_malformed"),
    ],
    ids=["bad-signature", "wrong-key-id", "wrong-challenge-digest", "wrong-type", "garbage"],
)  # fmt: skip
def test_invalid_tokens_are_401_pat_invalid(client, pat_key, issuer, forge, reason):
    _, raw = pat_key
    token = forge(challenge_for(start(client, raw)), issuer)
    response = start(client, raw, token)
    assert response.status_code == 401
    assert response.json()["code"] == "pat_invalid"
    assert pat_challenges_parse(response["WWW-Authenticate"])
    event = SecurityEvent.objects.get(kind="pat_failed")
    assert (event.decision, event.reason) == ("deny", reason)
    assert AnonymousSession.objects.count() == 0


def test_a_token_of_one_issuer_cannot_redeem_a_challenge_naming_another(
    client, pat_key, other_issuer
):
    _, raw = pat_key
    challenge = challenge_for(start(client, raw), "issuer.example")
    response = start(client, raw, other_issuer.token(challenge))
    assert response.json()["code"] == "pat_invalid"
    assert SecurityEvent.objects.get(kind="pat_failed").reason == "pat_unknown_challenge"


def test_an_expired_challenge_is_invalid(client, pat_key, issuer):
    _, raw = pat_key
    challenge = challenge_for(start(client, raw))
    cache_clear()  # what PAT_CHALLENGE_LIFETIME does to the entry
    assert start(client, raw, issuer.token(challenge)).json()["code"] == "pat_invalid"


def test_an_rfc_9578_vector_token_redeems_the_vector_challenge(client, pat_key, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PAT_ISSUERS": [f"{ISSUER_NAME}={b64url_encode(bytes.fromhex(PUBLIC_KEY_HEX))}"],
    }
    challenge_hex, token_hex = VECTORS[0]
    # As if gatehouse had sent the RFC's challenge in a 401.
    assert pat_challenges_remember({ISSUER_NAME: bytes.fromhex(challenge_hex)})
    _, raw = pat_key
    token = b64url_encode(bytes.fromhex(token_hex))
    assert start(client, raw, token).status_code == 201
    assert start(client, raw, token).json()["code"] == "pat_replayed"


@pytest.mark.usefixtures("easy_pow")
def test_with_pow_too_nothing_is_spent_before_the_token_is_shown(client, make_api_key, issuer):
    _, raw = make_api_key(required_verifications=["pow", "pat"])
    challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw).json()
    payload = solve(challenge["altcha"])
    first = start(client, raw, altcha=payload)
    assert first.json()["code"] == "pat_required"  # the proof of work is still unspent
    token = issuer.token(challenge_for(first))
    # A bad proof of work does not use the token up either.
    assert start(client, raw, token, altcha="garbage").json()["code"] == "challenge_failed"
    assert start(client, raw, token, altcha=payload).status_code == 201


@pytest.mark.usefixtures("easy_pow")
def test_a_token_the_key_does_not_require_is_positive_evidence(client, make_api_key, issuer):
    api_key, raw = make_api_key(required_verifications=["pow"])
    challenge = pat_challenge_build(
        issuer_name="issuer.example", redemption_context=bytes(32), origin_info="x.example"
    )
    pat_challenges_remember({"issuer.example": challenge})
    pow_challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw).json()
    outcome = challenge_verify(
        api_key=api_key,
        client_ip="198.51.100.51",
        evidence=ChallengeEvidence(
            altcha=solve(pow_challenge["altcha"]), private_token=issuer.token(challenge)
        ),
    )
    assert outcome.shown == {"pow", "pat"}
    assert outcome.pat_issuer == "issuer.example"


@pytest.mark.usefixtures("easy_pow")
def test_an_invalid_token_the_key_does_not_require_is_ignored(client, make_api_key):
    _, raw = make_api_key(required_verifications=["pow"])
    challenge = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw).json()
    response = start(client, raw, "garbage", altcha=solve(challenge["altcha"]))
    assert response.status_code == 201
    assert not SecurityEvent.objects.filter(kind="pat_failed").exists()


def test_observe_mode_lets_a_missing_token_through_as_an_alert(client, make_api_key):
    _, raw = make_api_key(required_verifications=["pat"], verifications_dry_run=True)
    assert start(client, raw).status_code == 201
    event = SecurityEvent.objects.get(kind="pat_failed")
    assert (event.decision, event.reason, event.details["dry_run"]) == (
        "alert", "pat_missing", True
    )  # fmt: skip


def test_without_issuers_a_pat_key_is_503(client, pat_key, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PAT_ISSUERS": []}
    _, raw = pat_key
    response = start(client, raw)
    assert (response.status_code, response.json()["code"]) == (503, "pat_unavailable")
