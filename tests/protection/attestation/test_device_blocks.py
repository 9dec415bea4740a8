"""Device blocks follow only denials of verified devices (issue 23, point 3).

Sessions under another key that merely claimed an attested iOS device's App
Attest key id, rate-limited, got that genuine device blocked; so did garbage
App Attest requests naming its key id (taken from the header before any
check). A claimed id now counts, and is blocked, only as that claim under
its key; a device an attestation verified is still blocked by its own
denials.
"""

from typing import Any

import pytest

from protection.blocks.models import BlockedClient
from protection.conf import DEFAULTS
from protection.sessions.devices import device_claim_value
from tests.support.app_attest import APP_ID, FakeApple, FakeDevice, b64

pytestmark = pytest.mark.django_db
SESSIONS = "/api/v1/sessions"
LOOKUP = "/api/v1/persons/lookup"


@pytest.fixture
def apple(settings) -> FakeApple:
    fake = FakeApple()
    rules = [
        {
            "name": "device-abuse",
            "dimension": "device",
            "kinds": ["rate_limited", "attestation_invalid", "attestation_replayed"],
            "threshold": 3,
            "window": 600,
            "duration": 3600,
        }
    ]
    limits = DEFAULTS["RATE_LIMITS"]
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APP_ATTEST_APP_IDS": [APP_ID],
        "APP_ATTEST_ROOT_CA_PEM": fake.root_pem,
        "AUTO_BLOCK_RULES": rules,
        "RATE_LIMITS": {
            **limits,
            "session": {"ip": ["1000/m"]},
            # An hour: a window rolling over mid-test would admit a lookup.
            "lookup": {"ip": ["1000/m"], "session": ["1/h"]},
        },
    }
    return fake


def _headers(device: FakeDevice, *, attest: bool = False, path: str = SESSIONS) -> dict:
    data = device.client_data(method="POST", path=path)
    headers = {"HTTP_X_APPLE_APPATTEST_KEYID": device.key_id}
    headers["HTTP_X_APPLE_APPATTEST_CLIENTDATA"] = b64(data)
    if attest:
        plain = device.client_data()
        headers["HTTP_X_APPLE_APPATTEST_CLIENTDATA"] = b64(plain)
        headers["HTTP_X_APPLE_APPATTEST_ATTESTATION"] = device.attest(plain)
    else:
        headers["HTTP_X_APPLE_APPATTEST_ASSERTION"] = device.assertion(data)
    return headers


def _session(client, raw: str, body: dict | None = None, **headers: Any):
    return client.post(SESSIONS, body or {}, format="json", HTTP_X_API_KEY=raw, **headers)


def _lookups(client, raw: str, access: str, count: int) -> list[int]:
    return [
        client.post(
            LOOKUP,
            {"email": f"ada{index}@example.com"},
            format="json",
            HTTP_X_API_KEY=raw,
            HTTP_AUTHORIZATION=f"Bearer {access}",
        ).status_code
        for index in range(count)
    ]


@pytest.fixture
def genuine(client, make_api_key, apple):
    """An iOS app's key and one attested device."""
    key, raw = make_api_key(name="ios", required_verifications=["app_attest"])
    device = FakeDevice(apple)
    started = _session(client, raw, **_headers(device, attest=True))
    assert started.status_code == 201, started.content
    return key, raw, device


def _genuine_still_served(client, raw: str, device: FakeDevice) -> None:
    started = _session(client, raw, **_headers(device))
    assert started.status_code == 201, started.content
    assert _lookups(client, raw, started.json()["access"], 1) == [200]


def test_sessions_claiming_the_device_under_another_key_cannot_get_it_blocked(
    client, make_api_key, genuine
):
    _key, raw, device = genuine
    other, other_raw = make_api_key(name="copied web key", required_verifications=[])
    claimed = _session(client, other_raw, {"device_id": device.key_id})
    assert claimed.status_code == 201
    # The claimed id, rate-limited again and again (the rule's threshold: 3).
    assert _lookups(client, other_raw, claimed.json()["access"], 4) == [200, 429, 429, 429]
    claim = device_claim_value(api_key_public_id=other.public_id, device_id=device.key_id)
    assert set(BlockedClient.objects.values_list("kind", "value")) == {("device", claim)}
    _genuine_still_served(client, raw, device)
    # The claim itself is blocked under that key, and only there.
    refused = _session(client, other_raw, {"device_id": device.key_id})
    assert refused.status_code == 403 and refused.json()["code"] == "blocked"


def test_garbage_app_attest_requests_naming_the_key_id_cannot_get_it_blocked(
    client, make_api_key, genuine
):
    key, raw, device = genuine
    garbage = {
        "HTTP_X_APPLE_APPATTEST_KEYID": device.key_id,
        "HTTP_X_APPLE_APPATTEST_CLIENTDATA": b64(b"{}"),
        "HTTP_X_APPLE_APPATTEST_ASSERTION": b64(b"garbage"),
    }
    for _ in range(4):
        assert _session(client, raw, **garbage).status_code == 403
    claim = device_claim_value(api_key_public_id=key.public_id, device_id=device.key_id)
    assert BlockedClient.objects.filter(kind="device", value=claim).exists()
    assert not BlockedClient.objects.filter(kind="device", value=device.key_id).exists()
    _genuine_still_served(client, raw, device)


def test_a_verified_device_is_still_blocked_by_its_own_denials(client, genuine):
    _key, raw, device = genuine
    started = _session(client, raw, **_headers(device))
    assert _lookups(client, raw, started.json()["access"], 4) == [200, 429, 429, 429]
    assert BlockedClient.objects.filter(kind="device", value=device.key_id).exists()
    refused = _session(client, raw, **_headers(device))
    assert refused.status_code == 403 and refused.json()["code"] == "blocked"
