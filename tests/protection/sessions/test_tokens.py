"""Access tokens: every forgery, mix-up and expiry is a 401 with a stable code.

Tokens are crafted with PyJWT and presented to a real session endpoint
(DELETE /api/v1/sessions/current), so the whole authentication path is tested.
"""

import base64
import json
import time
import uuid

import jwt
import pytest

from protection.conf import gatehouse_settings
from protection.sessions import AnonymousSession
from protection.sessions.tokens import token_signing_key

pytestmark = pytest.mark.django_db

URL = "/api/v1/sessions/current"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(session: AnonymousSession, **changes) -> dict:
    now = int(time.time())
    claims = {
        "token_type": "access",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "sid": str(session.id),
        "kid": session.api_key.public_id,
        "iss": gatehouse_settings.TOKEN_ISSUER,
        "aud": gatehouse_settings.TOKEN_AUDIENCE,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or token_signing_key(), algorithm=algorithm)


@pytest.fixture
def issued(api_key, make_session):
    key, raw = api_key
    return make_session(key), raw


def _present(client, raw_key: str, token: str):
    return client.delete(URL, HTTP_X_API_KEY=raw_key, HTTP_AUTHORIZATION=f"Bearer {token}")


def test_well_formed_token_is_accepted(client, issued):
    session, raw = issued
    assert _present(client, raw, _sign(_claims(session.session))).status_code == 204


def test_issued_token_carries_the_claims(issued):
    session, _ = issued
    claims = jwt.decode(
        session.access, token_signing_key(), algorithms=["HS256"],
        audience=gatehouse_settings.TOKEN_AUDIENCE, issuer=gatehouse_settings.TOKEN_ISSUER,
    )  # fmt: skip
    assert claims["sid"] == str(session.session.id)
    assert claims["kid"] == session.session.api_key.public_id
    assert claims["token_type"] == "access"
    assert claims["jti"] and claims["exp"] - claims["iat"] == 300
    assert jwt.get_unverified_header(session.access)["alg"] == "HS256"


def test_tokens_are_not_signed_with_secret_key_or_signing_key(issued, settings):
    session, _ = issued
    for wrong_key in (settings.SECRET_KEY, gatehouse_settings.SIGNING_KEY):
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(
                session.access, wrong_key, algorithms=["HS256"], options={"verify_aud": False}
            )


def _alg_none(claims: dict) -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."


def _spliced(session, issued_access: str) -> str:
    # Header and signature of a genuine token around another payload.
    header, _, signature = issued_access.split(".")
    return f"{header}.{_b64(_claims(session, sid=str(uuid.uuid4())))}.{signature}"


CASES = {
    "alg-none": lambda s, a: _alg_none(_claims(s)),
    "hs512": lambda s, a: _sign(_claims(s), algorithm="HS512"),
    "forged-signature": lambda s, a: _sign(_claims(s), key="not-the-key-" * 4),
    "spliced": lambda s, a: _spliced(s, a),
    "refresh-as-access": lambda s, a: _sign(_claims(s, token_type="refresh")),
    "no-type": lambda s, a: _sign(_claims(s, token_type=None)),
    "wrong-aud": lambda s, a: _sign(_claims(s, aud="another-service")),
    "no-aud": lambda s, a: _sign(_claims(s, aud=None)),
    "wrong-iss": lambda s, a: _sign(_claims(s, iss="evil")),
    "no-iss": lambda s, a: _sign(_claims(s, iss=None)),
    "no-exp": lambda s, a: _sign(_claims(s, exp=None)),
    # Signed with the real key but ill-typed: each was a 500 (TypeError, OverflowError).
    "exp-numeric-string": lambda s, a: _sign(_claims(s, exp=str(int(time.time()) + 300))),
    "exp-huge-float": lambda s, a: _sign(_claims(s, exp=1e20)),
    "exp-huge-int": lambda s, a: _sign(_claims(s, exp=10**30)),
    "exp-list": lambda s, a: _sign(_claims(s, exp=[1])),
    "iat-string": lambda s, a: _sign(_claims(s, iat="yesterday")),
    "no-jti": lambda s, a: _sign(_claims(s, jti=None)),
    "no-sid": lambda s, a: _sign(_claims(s, sid=None)),
    "sid-not-uuid": lambda s, a: _sign(_claims(s, sid="1 OR 1=1")),
    "sid-not-string": lambda s, a: _sign(_claims(s, sid=123)),
    "unknown-session": lambda s, a: _sign(_claims(s, sid=str(uuid.uuid4()))),
    "not-a-jwt": lambda s, a: "garbage",
    "three-dots": lambda s, a: "a.b.c",
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_bad_token_is_token_invalid(client, issued, case):
    session, raw = issued
    token = CASES[case](session.session, session.access)
    response = _present(client, raw, token)
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "token_invalid"
    assert AnonymousSession.objects.get(pk=session.session.pk).revoked_at is None


def test_real_refresh_token_is_not_an_access_token(client, issued):
    session, raw = issued
    response = _present(client, raw, session.refresh)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_expired_token_is_token_expired(client, issued):
    session, raw = issued
    now = int(time.time())
    token = _sign(_claims(session.session, iat=now - 600, exp=now - 300))
    response = _present(client, raw, token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_token_of_another_api_key_is_refused(client, issued, make_api_key):
    session, _ = issued
    _, other_raw = make_api_key(name="other app")
    response = _present(client, other_raw, session.access)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_token_naming_another_key_is_refused(client, issued, make_api_key):
    session, raw = issued
    other, _ = make_api_key(name="other app")
    response = _present(client, raw, _sign(_claims(session.session, kid=other.public_id)))
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_token_of_a_deleted_session_is_refused(client, issued):
    session, raw = issued
    AnonymousSession.objects.filter(pk=session.session.pk).delete()
    response = _present(client, raw, session.access)
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_missing_bearer_is_token_missing(client, issued):
    _, raw = issued
    response = client.delete(URL, HTTP_X_API_KEY=raw)
    assert response.status_code == 401
    assert response.json()["code"] == "token_missing"
