"""DPoP on the wire (RFC 9449): a session bound to the client's key, end to end.

``POST /api/v1/sessions`` with a ``DPoP`` proof issues tokens carrying
``cnf.jkt`` and says ``token_type: "DPoP"``; every later request sends
``Authorization: DPoP <access>`` with a fresh proof. A copy of the token
is useless without the key; refresh keeps the binding.
"""

import jwt
import pytest

from protection.dpop import dpop_thumbprint
from tests.support.dpop import BASE_URL, DpopClient

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/persons/lookup"


@pytest.fixture(autouse=True)
def _public_base_url(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": BASE_URL}


def _start(client, raw: str, holder: DpopClient | None):
    headers = {"HTTP_X_API_KEY": raw}
    if holder is not None:
        headers["HTTP_DPOP"] = holder.proof(url=BASE_URL + "/api/v1/sessions")
    return client.post("/api/v1/sessions", {}, format="json", **headers)


def _lookup(client, raw: str, access: str, *, scheme: str = "DPoP", proof: str | None = None):
    headers = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"{scheme} {access}"}
    if proof is not None:
        headers["HTTP_DPOP"] = proof
    return client.post(LOOKUP, {"email": "ada@example.com"}, format="json", **headers)


@pytest.fixture
def bound(client, make_api_key):
    _key, raw = make_api_key(required_verifications=["dpop"])
    holder = DpopClient()
    response = _start(client, raw, holder)
    assert response.status_code == 201, response.content
    return raw, holder, response.json()


def test_a_dpop_session_is_bound_to_the_clients_key(bound):
    _raw, holder, tokens = bound
    assert tokens["token_type"] == "DPoP"
    claims = jwt.decode(tokens["access"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": dpop_thumbprint(holder.jwk)}


def test_the_key_holder_looks_up_with_a_fresh_proof(client, bound):
    raw, holder, tokens = bound
    proof = holder.proof(url=BASE_URL + LOOKUP, access_token=tokens["access"])
    response = _lookup(client, raw, tokens["access"], proof=proof)
    assert response.status_code == 200, response.content
    # The same proof again is a replay.
    again = _lookup(client, raw, tokens["access"], proof=proof)
    assert again.status_code == 401 and again.json()["code"] == "dpop_replayed"


def test_a_stolen_token_is_useless_without_the_key(client, bound):
    raw, _holder, tokens = bound
    as_bearer = _lookup(client, raw, tokens["access"], scheme="Bearer")
    assert as_bearer.status_code == 401
    assert as_bearer.json()["code"] == "dpop_required"
    assert 'DPoP error="' in as_bearer["WWW-Authenticate"]
    thief = DpopClient()
    stolen = thief.proof(url=BASE_URL + LOOKUP, access_token=tokens["access"])
    response = _lookup(client, raw, tokens["access"], proof=stolen)
    assert response.status_code == 401
    assert response.json()["code"] == "dpop_binding_mismatch"
    assert 'DPoP error="invalid_token"' in response["WWW-Authenticate"]


def test_refresh_keeps_the_binding(client, bound):
    raw, holder, tokens = bound
    refreshed = client.post(
        "/api/v1/sessions/refresh",
        {"refresh": tokens["refresh"]},
        format="json",
        HTTP_X_API_KEY=raw,
        HTTP_DPOP=holder.proof(url=BASE_URL + "/api/v1/sessions/refresh"),
    )
    assert refreshed.status_code == 200, refreshed.content
    pair = refreshed.json()
    assert pair["token_type"] == "DPoP"
    claims = jwt.decode(pair["access"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": dpop_thumbprint(holder.jwk)}


def test_a_bound_refresh_token_without_a_proof_is_refused(client, bound):
    raw, _holder, tokens = bound
    response = client.post(
        "/api/v1/sessions/refresh",
        {"refresh": tokens["refresh"]},
        format="json",
        HTTP_X_API_KEY=raw,
    )
    assert response.status_code == 401 and response.json()["code"] == "dpop_required"


def test_a_key_that_requires_dpop_refuses_a_session_without_a_proof(client, make_api_key):
    _key, raw = make_api_key(required_verifications=["dpop"])
    response = _start(client, raw, None)
    assert response.status_code == 401
    assert response.json()["code"] == "dpop_required"
    assert "DPoP" in response["WWW-Authenticate"]


def test_without_dpop_sessions_stay_bearer(client, make_api_key):
    _key, raw = make_api_key(required_verifications=[])
    tokens = _start(client, raw, None).json()
    assert tokens["token_type"] == "Bearer"
    assert "cnf" not in jwt.decode(tokens["access"], options={"verify_signature": False})
