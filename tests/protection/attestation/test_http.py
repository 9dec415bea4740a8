"""App attestation on the wire: sessions, and every lookup for keys that ask for it.

Approov tokens are minted here with a random account secret (the verifiers'
own tests cover every claim); these tests show the checks are wired where
the contract says: ``POST /api/v1/sessions`` and, with
``attest_every_request``, lookup and create.
"""

import os

import pytest

from protection.blocks import block_create
from protection.core.events import SecurityEvent
from protection.sessions import AnonymousSession
from tests.support.approov import approov

pytestmark = pytest.mark.django_db


def _session(client, raw: str, **headers):
    return client.post("/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, **headers)


def test_a_key_that_requires_approov_refuses_a_session_without_it(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov"])
    response = _session(client, raw)
    assert response.status_code == 403
    assert response.json()["code"] == "attestation_required"
    event = SecurityEvent.objects.get(kind="attestation_failed")
    assert event.details["verifier"] == "approov"


def test_a_valid_token_gives_a_session_on_the_attested_device(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov"])
    response = _session(client, raw, HTTP_APPROOV_TOKEN=approov(secret, bound=raw))
    assert response.status_code == 201, response.content
    session = AnonymousSession.objects.get(pk=response.json()["session_id"])
    assert session.device_id == "ZGV2aWNlLTE="


def test_a_token_bound_to_another_key_is_refused(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov"])
    _other, other_raw = make_api_key(name="other", required_verifications=["approov"])
    response = _session(client, raw, HTTP_APPROOV_TOKEN=approov(secret, bound=other_raw))
    assert response.status_code == 403
    assert response.json()["code"] == "attestation_invalid"


def test_a_blocked_attested_device_gets_no_session(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov"])
    block_create(kind="device", value="ZGV2aWNlLTE=", reason="test")
    response = _session(client, raw, HTTP_APPROOV_TOKEN=approov(secret, bound=raw))
    assert response.status_code == 403
    assert response.json()["code"] == "blocked"


def test_invalid_evidence_fails_even_where_attestation_is_optional(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=[])
    forged = approov(os.urandom(32), bound=raw)
    response = _session(client, raw, HTTP_APPROOV_TOKEN=forged)
    assert response.status_code == 403
    assert response.json()["code"] == "attestation_invalid"


def test_every_request_mode_checks_each_lookup(client, make_api_key, make_session, secret):
    key, raw = make_api_key(required_verifications=["approov"], attest_every_request=True)
    issued = make_session(key)
    authorization = f"Bearer {issued.access}"
    headers = {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": authorization}
    body = {"email": "ada@example.com"}
    missing = client.post("/api/v1/persons/lookup", body, format="json", **headers)
    assert missing.status_code == 403 and missing.json()["code"] == "attestation_required"
    token = approov(secret, bound=authorization)  # bound to this request's Authorization
    found = client.post(
        "/api/v1/persons/lookup", body, format="json", HTTP_APPROOV_TOKEN=token, **headers
    )
    assert found.status_code == 200, found.content
    assert found.json() == {"exists": False}


def test_without_every_request_mode_a_lookup_needs_no_attestation(
    client, make_api_key, make_session, secret
):
    key, raw = make_api_key(required_verifications=["approov"])
    issued = make_session(key)
    response = client.post(
        "/api/v1/persons/lookup",
        {"email": "ada@example.com"},
        format="json",
        HTTP_X_API_KEY=raw,
        HTTP_AUTHORIZATION=f"Bearer {issued.access}",
    )
    assert response.status_code == 200


def test_evidence_in_observe_mode_is_recorded_and_let_through(client, make_api_key, secret):
    _key, raw = make_api_key(required_verifications=["approov", "pow"], verifications_dry_run=True)
    response = _session(client, raw, HTTP_APPROOV_TOKEN=approov(os.urandom(32), bound=raw))
    assert response.status_code == 201, response.content
    # What it would have refused: the forged token and the missing proof of work.
    alerts = SecurityEvent.objects.filter(decision="alert", details__dry_run=True)
    assert set(alerts.values_list("kind", flat=True)) == {"attestation_failed", "challenge_failed"}
    assert not SecurityEvent.objects.filter(decision="deny").exists()


def test_observe_mode_for_every_key_from_settings(client, make_api_key, secret, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "VERIFICATIONS_DRY_RUN": True}
    _key, raw = make_api_key(required_verifications=["pow"])
    assert _session(client, raw).status_code == 201
    settings.GATEHOUSE = {**settings.GATEHOUSE, "VERIFICATIONS_DRY_RUN": False}
    assert _session(client, raw).status_code == 403


def test_the_challenge_tells_an_app_attest_key_its_server_challenge(client, make_api_key):
    _key, raw = make_api_key(required_verifications=["app_attest"])
    body = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw).json()
    assert body["requires"] == ["app_attest"]
    assert isinstance(body["app_attest_challenge"], str) and body["app_attest_challenge"]
    _other, other_raw = make_api_key(name="web", required_verifications=["pow"])
    assert (
        "app_attest_challenge"
        not in client.post("/api/v1/challenges", HTTP_X_API_KEY=other_raw).json()
    )
