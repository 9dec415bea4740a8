"""Attestation evidence starts one session (issue 23, point 4).

One Approov token started 12 sessions from 12 addresses and one App Check
token 10 of 10: at session start the evidence is now single-use (a digest of
the token claimed in the request's round trip until the token expires). An
App Attest assertion made for another method or path is refused at
``POST /api/v1/sessions`` like everywhere else. On later requests (keys that
attest every request) a token is reused as its SDK means it to be.
"""

import datetime
from typing import Any

import pytest

from protection.core.events import SecurityEvent
from tests.support.app_attest import APP_ID as APPLE_APP_ID
from tests.support.app_attest import FakeApple, FakeDevice, b64
from tests.support.approov import approov
from tests.support.attestation import (
    APP_ID,
    JwksServer,
    app_check_token,
    jwks_document,
    rsa_key,
)

pytestmark = pytest.mark.django_db
SESSIONS = "/api/v1/sessions"


def _start(client, raw: str, address: str, **headers: Any):
    return client.post(
        SESSIONS, {}, format="json", HTTP_X_API_KEY=raw, REMOTE_ADDR=address, **headers
    )


def test_one_approov_token_starts_one_session(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov"])
    token = approov(secret, bound=raw)
    first = _start(client, raw, "203.0.113.1", HTTP_APPROOV_TOKEN=token)
    assert first.status_code == 201, first.content
    for index in range(2, 5):  # the copy, from other addresses
        again = _start(client, raw, f"203.0.113.{index}", HTTP_APPROOV_TOKEN=token)
        assert again.status_code == 403, again.content
        assert again.json()["code"] == "attestation_replayed"
    event = SecurityEvent.objects.filter(kind="attestation_replayed").latest("id")
    assert event.reason == "approov_replayed" and event.details["verifier"] == "approov"


def test_a_fresh_token_starts_a_second_session(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov"])
    assert (
        _start(
            client, raw, "203.0.113.1", HTTP_APPROOV_TOKEN=approov(secret, bound=raw)
        ).status_code
        == 201
    )
    other = approov(secret, bound=raw, device="ZGV2aWNlLTI=")
    assert _start(client, raw, "203.0.113.1", HTTP_APPROOV_TOKEN=other).status_code == 201


def test_an_approov_token_is_reused_on_every_request_lookups(
    client, make_api_key, make_session, secret
):
    key, raw = make_api_key(required_verifications=["approov"], attest_every_request=True)
    issued = make_session(key)
    authorization = f"Bearer {issued.access}"
    token = approov(secret, bound=authorization)
    for index in range(3):
        response = client.post(
            "/api/v1/persons/lookup",
            {"email": f"ada{index}@example.com"},
            format="json",
            HTTP_X_API_KEY=raw,
            HTTP_AUTHORIZATION=authorization,
            HTTP_APPROOV_TOKEN=token,
        )
        assert response.status_code == 200, response.content


def test_one_app_check_token_starts_one_session(client, make_api_key, settings):
    private = rsa_key()
    with JwksServer(jwks_document({"kid-1": private})) as jwks:
        settings.GATEHOUSE = {
            **settings.GATEHOUSE,
            "APPCHECK_PROJECT_NUMBER": "123456789012",
            "APPCHECK_APP_IDS": [APP_ID],
            "APPCHECK_JWKS_URL": jwks.url + "/jwks",
        }
        _key, raw = make_api_key(required_verifications=["app_check"])
        token = app_check_token(private, now=datetime.datetime.now(datetime.UTC))
        assert (
            _start(client, raw, "198.51.100.1", HTTP_X_FIREBASE_APPCHECK=token).status_code == 201
        )
        replayed = _start(client, raw, "198.51.100.2", HTTP_X_FIREBASE_APPCHECK=token)
        assert replayed.status_code == 403
        assert replayed.json()["code"] == "attestation_replayed"


@pytest.fixture
def apple(settings) -> FakeApple:
    fake = FakeApple()
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APP_ATTEST_APP_IDS": [APPLE_APP_ID],
        "APP_ATTEST_ROOT_CA_PEM": fake.root_pem,
        "AUTO_BLOCK_RULES": [],
    }
    return fake


def _attest_headers(device: FakeDevice, data: bytes, attestation: str | None = None) -> dict:
    headers = {
        "HTTP_X_APPLE_APPATTEST_KEYID": device.key_id,
        "HTTP_X_APPLE_APPATTEST_CLIENTDATA": b64(data),
    }
    if attestation is not None:
        headers["HTTP_X_APPLE_APPATTEST_ATTESTATION"] = attestation
    else:
        headers["HTTP_X_APPLE_APPATTEST_ASSERTION"] = device.assertion(data)
    return headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/api/v1/persons"), ("GET", "/anything"), ("GET", SESSIONS)],
)
def test_an_app_attest_assertion_for_another_request_starts_no_session(
    client, make_api_key, apple, method, path
):
    _key, raw = make_api_key(required_verifications=["app_attest"])
    device = FakeDevice(apple)
    data = device.client_data()
    attested = _start(
        client, raw, "192.0.2.1", **_attest_headers(device, data, device.attest(data))
    )
    assert attested.status_code == 201, attested.content
    elsewhere = device.client_data(method=method, path=path)
    refused = _start(client, raw, "192.0.2.1", **_attest_headers(device, elsewhere))
    assert refused.status_code == 403, refused.content
    assert refused.json()["code"] == "attestation_invalid"
    # Made for this very request, it starts a session.
    here = device.client_data(method="POST", path=SESSIONS)
    assert _start(client, raw, "192.0.2.1", **_attest_headers(device, here)).status_code == 201
