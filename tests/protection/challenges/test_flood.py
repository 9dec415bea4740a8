"""Floods against one publishable key do not become everyone's problem.

A holder of the key (it can be copied out of any app) sends garbage proof
of work from many addresses, or spends the key's session budget. Risk stays
per client: the flooding addresses pay for their own denials, a clean
client on a fresh address still gets a session at a bounded difficulty,
staff are alerted, and the audit log's writes stay bounded.
"""

import pytest

from protection.core.events import SecurityEvent, event_record
from tests.support.challenges import easy_pow_fixture, solve  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("easy_pow")]


@pytest.fixture
def frozen_writer():
    from protection.core.events import denial_writer

    real = denial_writer.clock
    denial_writer.clock = lambda: 1000.0
    yield
    denial_writer.clock = real


def _challenge(client, raw_key: str, ip: str) -> dict:
    response = client.post("/api/v1/challenges", HTTP_X_API_KEY=raw_key, REMOTE_ADDR=ip)
    assert response.status_code == 201, response.content
    return response.json()


def test_a_clean_client_gets_a_session_during_a_garbage_flood(
    client, make_api_key, settings, frozen_writer
):
    key, raw = make_api_key()
    base = _challenge(client, raw, "192.0.2.200")["altcha"]["parameters"]["data"]["maxNumber"]
    # 2,000 garbage proofs of work from 2,000 addresses, as the denials they
    # cause: four times the key-wide rule's threshold (500).
    for index in range(2_000):
        event_record(
            kind="challenge_failed",
            decision="deny",
            reason="pow_invalid",
            api_key=key,
            client_ip=f"10.{index // 65536}.{index // 256 % 256}.{index % 256}",
        )
    # Staff are told (the key-wide rule fires), nobody is blocked for it...
    assert SecurityEvent.objects.filter(kind="key_abuse_suspected").exists()
    # ...the audit log wrote its budget, not 2,000 rows...
    assert SecurityEvent.objects.filter(kind="challenge_failed").count() <= 20
    # ...and a clean client on a fresh address pays at most one doubling.
    challenge = _challenge(client, raw, "198.51.100.7")
    difficulty = challenge["altcha"]["parameters"]["data"]["maxNumber"]
    cap = base * 2 ** settings.GATEHOUSE.get("POW_KEY_PRESSURE_MAX_DOUBLINGS", 1)
    assert base < difficulty <= cap
    response = client.post(
        "/api/v1/sessions",
        {"altcha": solve(challenge["altcha"])},
        format="json",
        HTTP_X_API_KEY=raw,
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 201, response.content


def test_spending_the_keys_session_budget_alerts_instead_of_refusing_everyone(
    client, make_api_key, settings
):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {**settings.GATEHOUSE.get("RATE_LIMITS", {}), "session": {"key": ["3/m"]}},
    }
    _key, raw = make_api_key(required_verifications=[])
    for index in range(6):  # the key holder, from six addresses
        response = client.post(
            "/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, REMOTE_ADDR=f"10.0.0.{index}"
        )
        assert response.status_code == 201
    alert = SecurityEvent.objects.filter(kind="rate_limited", decision="alert").first()
    assert alert is not None and alert.details["dry_run"] is True
    assert alert.reason == "session:key"


def test_a_limit_out_of_observe_mode_refuses(client, make_api_key, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "RATE_LIMITS": {**settings.GATEHOUSE.get("RATE_LIMITS", {}), "session": {"key": ["3/m"]}},
        "RATE_LIMITS_OBSERVE": [],
    }
    _key, raw = make_api_key(required_verifications=[])
    statuses = [
        client.post(
            "/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, REMOTE_ADDR=f"10.0.0.{index}"
        ).status_code
        for index in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
