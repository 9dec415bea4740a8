"""DPoP proofs (RFC 9449): every check of ``dpop_proof_verify``, the session-start
and per-request services, and the binding carried by session tokens."""

import datetime
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent, event_scope
from protection.core.ratelimit import rate_limit_hit_many
from protection.dpop import (
    DpopError,
    dpop_access_token_hash,
    dpop_jti_claim,
    dpop_nonce_issue,
    dpop_proof_verify,
    dpop_public_origin,
    dpop_refresh_verify,
    dpop_request_verify,
    dpop_session_start,
    dpop_thumbprint,
)
from protection.errors import problem_for_exception
from protection.sessions.tokens import (
    SessionAccessToken,
    SessionRefreshToken,
    token_create,
    token_decode,
    token_jkt,
)
from tests.support.dpop import BASE_URL, DpopClient, b64url, unsigned_proof

PATH = "/api/v1/persons/lookup"
URL = BASE_URL + PATH


@pytest.fixture(autouse=True)
def _public_base_url(settings: Any) -> None:
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": BASE_URL}


def _gatehouse(settings: Any, **values: Any) -> None:
    settings.GATEHOUSE = {**settings.GATEHOUSE, **values}


def _refused(code: str, proof: str, **kwargs: Any) -> DpopError:
    kwargs.setdefault("method", "POST")
    kwargs.setdefault("url", PATH)
    with pytest.raises(ProtectionError) as caught:
        dpop_proof_verify(proof=proof, **kwargs)
    assert caught.value.code == code, caught.value.detail
    return caught.value  # type: ignore[return-value]


# --- RFC 7638 thumbprints -------------------------------------------------


def test_thumbprint_matches_the_rfc_7638_example() -> None:
    jwk = {
        "kty": "RSA",
        "n": (
            "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
            "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4"
            "QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbO"
            "pbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csF"
            "Cur-kEgU8awapJzKnqDKgw"
        ),
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert dpop_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_thumbprint_ignores_member_order_and_extra_members() -> None:
    jwk = DpopClient().jwk
    shuffled = {"y": jwk["y"], "x": jwk["x"], "use": "sig", "crv": jwk["crv"], "kty": "EC"}
    assert dpop_thumbprint(shuffled) == dpop_thumbprint(jwk)


def test_thumbprint_refuses_an_incomplete_key() -> None:
    with pytest.raises(ValueError):
        dpop_thumbprint({"kty": "EC", "crv": "P-256", "x": "abc"})


# --- a valid proof ----------------------------------------------------------


def test_valid_proof_returns_the_thumbprint_of_its_key() -> None:
    client = DpopClient()
    assert dpop_proof_verify(proof=client.proof(), method="POST", url=PATH) == dpop_thumbprint(
        client.jwk
    )


def test_proof_for_another_key_has_another_thumbprint() -> None:
    one = dpop_proof_verify(proof=DpopClient().proof(), method="POST", url=PATH)
    other = dpop_proof_verify(proof=DpopClient().proof(), method="POST", url=PATH)
    assert one != other


# --- header: typ, alg, jwk ----------------------------------------------------


@pytest.mark.parametrize("typ", ["JWT", "at+jwt", None])
def test_typ_other_than_dpop_jwt_is_refused(typ: str | None) -> None:
    proof = DpopClient().proof(headers={"typ": typ})
    assert "typ" in _refused("dpop_proof_invalid", proof).detail


def test_alg_none_is_refused_even_when_configured(settings: Any) -> None:
    _gatehouse(settings, DPOP_ALGORITHMS=["none", "ES256"])
    client = DpopClient()
    payload = {"jti": "n1", "htm": "POST", "htu": URL, "iat": int(time.time())}
    proof = unsigned_proof({"typ": "dpop+jwt", "alg": "none", "jwk": client.jwk}, payload)
    assert _refused("dpop_proof_invalid", proof).reason == "alg_not_allowed"


def test_hs256_signed_with_the_public_key_as_secret_is_refused(settings: Any) -> None:
    """The classic alg confusion: a verifier that feeds the jwk to HMAC would accept it."""
    _gatehouse(settings, DPOP_ALGORITHMS=["ES256", "HS256"])
    client = DpopClient()
    public_pem = client.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": client.jwk}
    payload = {"jti": "h1", "htm": "POST", "htu": URL, "iat": int(time.time())}
    signing_input = unsigned_proof(header, payload).rsplit(".", 1)[0]
    for secret in (public_pem, json.dumps(client.jwk).encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        proof = f"{signing_input}.{b64url(mac)}"
        assert _refused("dpop_proof_invalid", proof).reason == "alg_not_allowed"


def test_algorithm_not_in_the_setting_is_refused() -> None:
    proof = DpopClient(ec.generate_private_key(ec.SECP384R1()), "ES384").proof()
    assert _refused("dpop_proof_invalid", proof).reason == "alg_not_allowed"


@pytest.mark.parametrize(
    ("algorithm", "make_key"),
    [
        ("EdDSA", ed25519.Ed25519PrivateKey.generate),
        ("PS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ],
)
def test_other_asymmetric_algorithms_when_configured(
    settings: Any, algorithm: str, make_key: Any
) -> None:
    client = DpopClient(make_key(), algorithm)
    _refused("dpop_proof_invalid", client.proof())
    _gatehouse(settings, DPOP_ALGORITHMS=["ES256", algorithm])
    assert dpop_proof_verify(proof=client.proof(), method="POST", url=PATH) == dpop_thumbprint(
        client.jwk
    )


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_short_rsa_key_is_refused(settings: Any) -> None:
    _gatehouse(settings, DPOP_ALGORITHMS=["RS256"])
    client = DpopClient(rsa.generate_private_key(public_exponent=65537, key_size=1024), "RS256")
    assert _refused("dpop_proof_invalid", client.proof()).reason == "jwk_too_weak"


def test_jwk_of_another_key_type_than_the_alg_is_refused(settings: Any) -> None:
    _gatehouse(settings, DPOP_ALGORITHMS=["ES256", "RS256"])
    rsa_client = DpopClient(rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
    proof = rsa_client.proof(headers={"jwk": DpopClient().jwk})
    assert _refused("dpop_proof_invalid", proof).reason == "jwk_alg_mismatch"


def test_jwk_on_another_curve_than_the_alg_is_refused() -> None:
    p384 = DpopClient(ec.generate_private_key(ec.SECP384R1()), "ES384")
    proof = DpopClient().proof(headers={"jwk": p384.jwk})
    assert _refused("dpop_proof_invalid", proof).reason == "jwk_alg_mismatch"


def test_jwk_with_private_members_is_refused() -> None:
    client = DpopClient()
    private_jwk = json.loads(jwt.get_algorithm_by_name("ES256").to_jwk(client.private_key))
    assert "d" in private_jwk
    proof = client.proof(headers={"jwk": private_jwk})
    assert _refused("dpop_proof_invalid", proof).reason == "jwk_private"


def test_missing_jwk_is_refused() -> None:
    client = DpopClient()
    proof = jwt.encode(
        {"jti": "x", "htm": "POST", "htu": URL, "iat": int(time.time())},
        client.private_key,
        algorithm="ES256",
        headers={"typ": "dpop+jwt"},
    )
    assert _refused("dpop_proof_invalid", proof).reason == "jwk_missing"


def test_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    client = DpopClient()
    proof = client.proof(signing_key=ec.generate_private_key(ec.SECP256R1()))
    assert _refused("dpop_proof_invalid", proof).reason == "signature"


def test_tampered_payload_is_refused() -> None:
    client = DpopClient()
    head, _, signature = client.proof().split(".")
    forged = b64url(
        json.dumps({"jti": "t", "htm": "POST", "htu": URL, "iat": int(time.time())}).encode()
    )
    assert _refused("dpop_proof_invalid", f"{head}.{forged}.{signature}").reason == "signature"


@pytest.mark.parametrize("proof", ["", "not-a-jwt", "a.b.c", "x" * 9000, None, 42])
def test_malformed_proofs_are_refused_cleanly(proof: Any) -> None:
    assert _refused("dpop_proof_invalid", proof).reason == "malformed"


def test_an_oversized_proof_is_refused_before_it_is_parsed() -> None:
    proof = DpopClient().proof(claims={"pad": "x" * 9000})
    assert _refused("dpop_proof_invalid", proof).reason == "malformed"


# --- claims: htm, htu, iat, jti, ath ----------------------------------------------


def test_htm_must_be_the_request_method() -> None:
    proof = DpopClient().proof(method="GET")
    assert _refused("dpop_proof_invalid", proof).reason == "htm"


def test_htu_must_be_the_public_url_of_the_request_path() -> None:
    proof = DpopClient().proof(url=BASE_URL + "/api/v1/persons")
    assert _refused("dpop_proof_invalid", proof).reason == "htu"


def test_htu_built_from_a_forged_host_is_refused_even_if_the_edge_passes_that_url() -> None:
    """The edge may hand over request.build_absolute_uri(), built from Host: only
    its path counts, the scheme and host are always PUBLIC_BASE_URL's."""
    evil = "https://evil.example" + PATH
    proof = DpopClient().proof(url=evil)
    assert _refused("dpop_proof_invalid", proof, url=evil).reason == "htu"
    good = DpopClient().proof(url=URL)
    assert dpop_proof_verify(proof=good, method="POST", url=evil)


def test_htu_with_plain_http_is_refused_for_an_https_deployment() -> None:
    proof = DpopClient().proof(url="http://signup-api.example.com" + PATH)
    assert _refused("dpop_proof_invalid", proof).reason == "htu"


@pytest.mark.parametrize(
    "htu",
    [
        URL + "?utm=1",
        URL + "#fragment",
        "HTTPS://Signup-API.example.com" + PATH,
        "https://signup-api.example.com:443" + PATH,
    ],
)
def test_htu_is_compared_after_normalising(htu: str) -> None:
    assert dpop_proof_verify(proof=DpopClient().proof(url=htu), method="POST", url=PATH)


def test_without_a_public_base_url_proofs_are_refused_with_503(settings: Any) -> None:
    _gatehouse(settings, PUBLIC_BASE_URL="")
    error = _refused("service_unavailable", DpopClient().proof())
    assert error.status == 503


@pytest.mark.parametrize("base", ["signup-api.example.com", "ftp://signup-api.example.com"])
def test_a_malformed_public_base_url_refuses_proofs_with_503(settings: Any, base: str) -> None:
    """The server's misconfiguration, not the client's proof: never blamed on htu."""
    _gatehouse(settings, PUBLIC_BASE_URL=base)
    assert _refused("service_unavailable", DpopClient().proof(url=base + PATH)).status == 503


@pytest.mark.parametrize(
    ("base", "origin"),
    [
        ("https://signup-api.example.com", "https://signup-api.example.com"),
        ("HTTPS://Signup-API.example.com:443/", "https://signup-api.example.com"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("", None),
        ("signup-api.example.com", None),
        ("https://example.com/prefix", None),
    ],
)
def test_public_origin_is_written_as_a_browser_writes_location_origin(
    settings: Any, base: str, origin: str | None
) -> None:
    """What a front end compares with ``location.origin`` to know whether proofs
    it signs for that origin can be checked here (signup/page.py)."""
    _gatehouse(settings, PUBLIC_BASE_URL=base)
    assert dpop_public_origin() == origin


@pytest.mark.parametrize("offset", [-61, 61, -3600])
def test_iat_outside_the_window_is_refused(offset: int) -> None:
    now = time.time()
    proof = DpopClient().proof(iat=now + offset)
    assert _refused("dpop_proof_invalid", proof, now=now).reason == "iat"


def test_iat_at_the_edge_of_the_window_is_accepted(settings: Any) -> None:
    now = 1_800_000_000.0
    client = DpopClient()
    assert dpop_proof_verify(proof=client.proof(iat=now - 60), method="POST", url=PATH, now=now)
    assert dpop_proof_verify(proof=client.proof(iat=now + 60), method="POST", url=PATH, now=now)
    _gatehouse(settings, DPOP_IAT_WINDOW=10)
    assert _refused("dpop_proof_invalid", client.proof(iat=now - 30), now=now).reason == "iat"


@pytest.mark.parametrize("iat", ["1800000000", True, None, float("nan"), float("inf")])
def test_iat_that_is_not_a_number_is_refused(iat: Any) -> None:
    proof = DpopClient().proof(claims={"iat": iat})
    _refused("dpop_proof_invalid", proof)


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat"])
def test_every_required_claim_must_be_present(claim: str) -> None:
    _refused("dpop_proof_invalid", DpopClient().proof(drop=(claim,)))


def test_a_proof_is_accepted_once() -> None:
    proof = DpopClient().proof()
    dpop_proof_verify(proof=proof, method="POST", url=PATH)
    error = _refused("dpop_replayed", proof)
    assert error.headers["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')


def test_a_new_proof_with_a_reused_jti_is_refused() -> None:
    client = DpopClient()
    dpop_proof_verify(proof=client.proof(jti="same"), method="POST", url=PATH)
    _refused("dpop_replayed", client.proof(jti="same", iat=time.time() - 1))


def test_a_refused_proof_does_not_spend_its_jti() -> None:
    client = DpopClient()
    _refused("dpop_proof_invalid", client.proof(jti="j1", method="GET"))
    assert dpop_proof_verify(proof=client.proof(jti="j1"), method="POST", url=PATH)


def test_ath_must_be_the_hash_of_the_token_sent_with_the_proof() -> None:
    client = DpopClient()
    assert dpop_proof_verify(
        proof=client.proof(access_token="token-a"), method="POST", url=PATH, access_token="token-a"
    )
    proof = client.proof(access_token="token-b")
    assert _refused("dpop_proof_invalid", proof, access_token="token-a").reason == "ath"
    assert _refused("dpop_proof_invalid", client.proof(), access_token="token-a").reason == "ath"


def test_ath_is_base64url_sha256_of_the_token() -> None:
    assert dpop_access_token_hash("abc") == b64url(hashlib.sha256(b"abc").digest())


def test_thumbprint_must_equal_the_bound_jkt() -> None:
    client, other = DpopClient(), DpopClient()
    proof = client.proof()
    error = _refused("dpop_binding_mismatch", proof, expected_jkt=dpop_thumbprint(other.jwk))
    assert error.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    assert dpop_proof_verify(
        proof=proof, method="POST", url=PATH, expected_jkt=dpop_thumbprint(client.jwk)
    )


# --- server nonces ----------------------------------------------------------------


def test_nonce_required_refuses_a_proof_without_one_and_hands_out_a_nonce(settings: Any) -> None:
    _gatehouse(settings, DPOP_NONCE_REQUIRED=True)
    client = DpopClient()
    error = _refused("dpop_nonce_required", client.proof())
    assert error.headers["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
    nonce = error.headers["DPoP-Nonce"]
    assert dpop_proof_verify(proof=client.proof(claims={"nonce": nonce}), method="POST", url=PATH)


def test_stale_or_forged_nonces_are_refused(settings: Any) -> None:
    _gatehouse(settings, DPOP_NONCE_REQUIRED=True, DPOP_NONCE_LIFETIME=300)
    now = time.time()
    stale = dpop_nonce_issue(now=now - 301)
    issued, rnd, mac = dpop_nonce_issue(now=now).split(".")
    forged = f"{int(issued) + 100}.{rnd}.{mac}"
    client = DpopClient()
    for nonce in (stale, forged, "1.2.3"):
        proof = client.proof(claims={"nonce": nonce}, iat=now)
        assert _refused("dpop_nonce_required", proof, now=now).reason == "nonce"


# --- problem+json at the edge ------------------------------------------------------


def test_refusal_renders_as_problem_json_with_the_dpop_challenge() -> None:
    error = _refused("dpop_proof_invalid", DpopClient().proof(method="GET"))
    response = problem_for_exception(error)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == 'DPoP error="invalid_dpop_proof", algs="ES256"'
    assert json.loads(response.content)["code"] == "dpop_proof_invalid"


# --- services: session start and later requests --------------------------------------


@pytest.mark.django_db
def test_session_start_without_proof_is_unbound_unless_the_key_requires_dpop() -> None:
    assert (
        dpop_session_start(proof=None, method="POST", url="/api/v1/sessions", required=False)
        is None
    )
    with event_scope(client_ip="192.0.2.7", path="/api/v1/sessions"):
        with pytest.raises(ProtectionError) as caught:
            dpop_session_start(proof=None, method="POST", url="/api/v1/sessions", required=True)
    assert caught.value.code == "dpop_required"
    event = SecurityEvent.objects.get(kind="dpop_required")
    assert (event.kind, event.decision, event.reason) == ("dpop_required", "deny", "proof_missing")
    assert event.details == {"verifier": "dpop"}
    assert event.client_ip == "192.0.2.7"


@pytest.mark.django_db
def test_session_start_with_a_proof_returns_its_key_and_a_claim_granted_once() -> None:
    client = DpopClient()
    url = "/api/v1/sessions"
    good = client.proof(url=BASE_URL + url)
    checked = dpop_session_start(proof=good, method="POST", url=url, required=False)
    assert checked is not None and checked.jkt == dpop_thumbprint(client.jwk)
    # The jti is spent in the request's round trip: a claim granted once.
    again = dpop_session_start(proof=good, method="POST", url=url, required=False)
    assert again is not None
    claims = [dpop_jti_claim(checked), dpop_jti_claim(again)]
    assert claims[0] == claims[1]
    assert [result.allowed for result in rate_limit_hit_many(claims)] == [True, False]


@pytest.mark.django_db
def test_bound_token_sent_as_bearer_is_refused() -> None:
    client = DpopClient()
    with pytest.raises(ProtectionError) as caught:
        dpop_request_verify(
            scheme="Bearer",
            access_token="tok",
            token_jkt=dpop_thumbprint(client.jwk),
            proof=client.proof(access_token="tok"),
            method="POST",
            url=PATH,
        )
    assert caught.value.code == "dpop_required"
    assert caught.value.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')
    assert SecurityEvent.objects.get(kind="dpop_required").reason == "bound_token_as_bearer"


@pytest.mark.django_db
def test_bound_token_without_its_key_is_refused() -> None:
    """A stolen token with a proof by the thief's own key."""
    victim, thief = DpopClient(), DpopClient()
    with pytest.raises(ProtectionError) as caught:
        dpop_request_verify(
            scheme="DPoP",
            access_token="tok",
            token_jkt=dpop_thumbprint(victim.jwk),
            proof=thief.proof(access_token="tok"),
            method="POST",
            url=PATH,
        )
    assert caught.value.code == "dpop_binding_mismatch"


@pytest.mark.django_db
def test_bound_token_without_a_proof_is_refused() -> None:
    with pytest.raises(ProtectionError) as caught:
        dpop_request_verify(
            scheme="DPoP",
            access_token="tok",
            token_jkt=dpop_thumbprint(DpopClient().jwk),
            proof=None,
            method="POST",
            url=PATH,
        )
    assert caught.value.code == "dpop_required"


@pytest.mark.django_db
def test_unbound_token_sent_as_dpop_is_refused_and_as_bearer_accepted() -> None:
    client = DpopClient()
    kwargs = {"access_token": "tok", "token_jkt": None, "method": "POST", "url": PATH}
    assert dpop_request_verify(scheme="Bearer", proof=None, **kwargs) is None
    with pytest.raises(ProtectionError) as caught:
        dpop_request_verify(scheme="DPoP", proof=client.proof(access_token="tok"), **kwargs)
    assert caught.value.code == "dpop_proof_invalid"


@pytest.mark.django_db
def test_bound_token_with_a_fresh_proof_by_its_key_passes() -> None:
    client = DpopClient()
    checked = dpop_request_verify(
        scheme="DPoP",
        access_token="tok",
        token_jkt=dpop_thumbprint(client.jwk),
        proof=client.proof(access_token="tok"),
        method="POST",
        url=PATH,
    )
    assert checked is not None and checked.jkt == dpop_thumbprint(client.jwk)
    assert not SecurityEvent.objects.filter(kind__startswith="dpop").exists()


@pytest.mark.django_db
def test_refresh_of_a_bound_session_needs_a_proof_by_the_same_key() -> None:
    client, thief = DpopClient(), DpopClient()
    jkt = dpop_thumbprint(client.jwk)
    url = "/api/v1/sessions/refresh"
    kwargs = {"token_jkt": jkt, "method": "POST", "url": url}
    for proof, code in (
        (None, "dpop_required"),
        (thief.proof(url=BASE_URL + url), "dpop_binding_mismatch"),
    ):
        with pytest.raises(ProtectionError) as caught:
            dpop_refresh_verify(proof=proof, **kwargs)
        assert caught.value.code == code
    assert dpop_refresh_verify(proof=client.proof(url=BASE_URL + url), **kwargs) == jkt
    assert SecurityEvent.objects.filter(decision="deny").count() == 2


def test_refresh_of_an_unbound_session_stays_unbound() -> None:
    assert (
        dpop_refresh_verify(
            proof=None, token_jkt=None, method="POST", url="/api/v1/sessions/refresh"
        )
        is None
    )


# --- the binding inside session tokens ------------------------------------------------


def _token(token_class: type, jkt: str | None) -> str:
    now = datetime.datetime.now(datetime.UTC)
    token = token_create(
        token_class,
        session_id="5d0f2b1e-0000-4000-8000-000000000001",
        api_key_public_id="abcdefghijkl",
        lifetime=datetime.timedelta(minutes=5),
        now=now,
        jkt=jkt,
    )
    return str(token)


@pytest.mark.parametrize("token_class", [SessionAccessToken, SessionRefreshToken])
def test_tokens_carry_cnf_jkt_and_read_it_back(token_class: type) -> None:
    jkt = dpop_thumbprint(DpopClient().jwk)
    raw = _token(token_class, jkt)
    assert jwt.decode(raw, options={"verify_signature": False})["cnf"] == {"jkt": jkt}
    assert token_jkt(token_decode(token_class, raw)) == jkt


def test_unbound_tokens_have_no_cnf() -> None:
    raw = _token(SessionAccessToken, None)
    assert "cnf" not in jwt.decode(raw, options={"verify_signature": False})
    assert token_jkt(token_decode(SessionAccessToken, raw)) is None


def test_a_token_with_an_unreadable_binding_is_invalid() -> None:
    token = token_create(
        SessionAccessToken,
        session_id="5d0f2b1e-0000-4000-8000-000000000001",
        api_key_public_id="abcdefghijkl",
        lifetime=datetime.timedelta(minutes=5),
        now=datetime.datetime.now(datetime.UTC),
    )
    token["cnf"] = {"x5t#S256": "abc"}
    with pytest.raises(ProtectionError) as caught:
        token_decode(SessionAccessToken, str(token))
    assert caught.value.code == "token_invalid"


# --- configuration --------------------------------------------------------------------


@pytest.mark.subprocess
def test_public_base_url_comes_from_the_environment() -> None:
    from tests.support.fresh_interpreter import run_python

    result = run_python(
        "import django; django.setup(); from protection.conf import gatehouse_settings as g; "
        "print(g.PUBLIC_BASE_URL)",
        GATEHOUSE_PUBLIC_BASE_URL="https://signup-api.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "https://signup-api.example.com"


@pytest.mark.parametrize(
    "base", ["signup-api.example.com", "ftp://x.example", "https://x.example/api"]
)
def test_a_malformed_public_base_url_is_a_startup_error(settings: Any, base: str) -> None:
    from django.core import checks

    _gatehouse(settings, PUBLIC_BASE_URL=base)
    assert [e.id for e in checks.run_checks() if e.id == "protection.E013"] == ["protection.E013"]


def test_symmetric_dpop_algorithms_in_the_setting_are_flagged(settings: Any) -> None:
    from django.core import checks

    assert not [e for e in checks.run_checks() if e.id == "protection.W013"]
    _gatehouse(settings, DPOP_ALGORITHMS=["ES256", "HS256", "none"])
    (warning,) = [e for e in checks.run_checks() if e.id == "protection.W013"]
    assert "HS256" in warning.msg and "none" in warning.msg
