"""Apple App Attest, offline: attestations under a test root CA injected in
place of Apple's, then assertions; every check refuses a forged object."""

import base64
import datetime
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from protection.attestation.app_attest import (
    AAGUIDS,
    ROOT_CA_FILE,
    AppAttestKey,
    app_attest,
    app_attest_challenge_issue,
    verify_assertion,
    verify_attestation,
)
from protection.base.exceptions import ProtectionError
from protection.blocks.models import BlockedClient
from protection.core.events import SecurityEvent
from protection.sessions.devices import device_claim_value
from tests.support.app_attest import (
    APP_ID,
    NOW,
    FakeApple,
    FakeDevice,
    b64,
    nonce_extension,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def apple() -> FakeApple:
    return FakeApple()


@pytest.fixture(autouse=True)
def _app_attest_settings(settings: Any, apple: FakeApple) -> None:
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APP_ATTEST_APP_IDS": ["OTHER12345.com.example.other", APP_ID],
        "APP_ATTEST_ROOT_CA_PEM": apple.root_pem,
        "APP_ATTEST_ENVIRONMENT": "production",
        "AUTO_BLOCK_RULES": [],
    }


@pytest.fixture
def key(api_key: Any) -> Any:
    return api_key[0]


@pytest.fixture
def device(apple: FakeApple) -> FakeDevice:
    return FakeDevice(apple)


def _attest(device: FakeDevice, key: Any, **forge: Any) -> Any:
    client_data = forge.pop("client_data", None) or device.client_data()
    return verify_attestation(
        key_id=forge.pop("key_id", device.key_id),
        attestation=device.attest(client_data, **forge),
        client_data=b64(client_data),
        api_key=key,
        client_ip="198.51.100.4",
    )


def _refused(code: str, reason: str, call: Any, *args: Any, **kwargs: Any) -> None:
    with pytest.raises(ProtectionError) as caught:
        call(*args, **kwargs)
    assert caught.value.code == code
    event = SecurityEvent.objects.latest("created_at")
    assert (event.kind, event.decision, event.reason) == (code, "deny", reason)
    assert event.details["verifier"] == "app_attest"


# --- the pinned root --------------------------------------------------------------


def test_the_shipped_root_is_apples_app_attestation_root() -> None:
    root = x509.load_pem_x509_certificate(ROOT_CA_FILE.read_bytes())
    root.verify_directly_issued_by(root)
    fingerprint = hashlib.sha256(root.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert fingerprint == "1cb9823ba28ba6ad2d33a006941de2ae4f513ef1d4e831b9f7e0fa7b6242c932"


def test_without_the_injected_root_a_test_chain_is_refused(
    settings: Any, device: FakeDevice, key: Any
) -> None:
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APP_ATTEST_ROOT_CA_PEM": ""}
    _refused("attestation_invalid", "certificate_chain", _attest, device, key)


# --- attestation ---------------------------------------------------------------------


def test_valid_attestation_stores_the_device_key(device: FakeDevice, key: Any) -> None:
    attested = _attest(device, key)
    assert attested.device_id == device.key_id
    assert attested.app_id == APP_ID
    stored = AppAttestKey.objects.get(key_id=device.key_id)
    assert (stored.sign_count, stored.api_key, stored.environment) == (0, key, "production")
    assert bytes(stored.receipt) == b"apple-receipt"
    assert app_attest.name == "app_attest"


def test_key_id_may_come_url_safe_without_padding(device: FakeDevice, key: Any) -> None:
    url_safe = base64.urlsafe_b64encode(device.key_id_bytes).rstrip(b"=").decode()
    assert _attest(device, key, key_id=url_safe).key_id == device.key_id


def test_a_key_is_attested_once(device: FakeDevice, key: Any) -> None:
    _attest(device, key)
    _refused("attestation_replayed", "key_already_attested", _attest, device, key)


def test_chain_under_another_root_is_refused(device: FakeDevice, key: Any) -> None:
    stranger = FakeApple("Test App Attestation Root CA")  # same name, other key
    forged = FakeDevice(stranger)
    _refused("attestation_invalid", "certificate_chain", _attest, forged, key)


def test_leaf_signed_by_another_leaf_is_refused(
    apple: FakeApple, device: FakeDevice, key: Any
) -> None:
    """An end-entity certificate under the real intermediate must not vouch for a device key."""
    rogue_key = ec.generate_private_key(ec.SECP384R1())
    rogue = apple.leaf(rogue_key.public_key(), None, subject="Rogue CA")
    forged = {
        "leaf_overrides": {"issuer": "Rogue CA", "issuer_key": rogue_key},
        "issuers": [rogue, apple.intermediate],
    }
    _refused("attestation_invalid", "certificate_chain", _attest, device, key, **forged)


def test_chain_may_include_the_root_itself(apple: FakeApple, device: FakeDevice, key: Any) -> None:
    assert _attest(device, key, issuers=[apple.intermediate, apple.root])


def test_expired_leaf_is_refused(device: FakeDevice, key: Any) -> None:
    old = {
        "not_before": NOW - datetime.timedelta(days=10),
        "not_after": NOW - datetime.timedelta(days=1),
    }
    _refused("attestation_invalid", "certificate_expired", _attest, device, key, leaf_overrides=old)


def test_nonce_over_other_client_data_is_refused(device: FakeDevice, key: Any) -> None:
    other = device.client_data()
    _refused("attestation_invalid", "nonce_mismatch", _attest, device, key, nonce_over=other)


def test_leaf_without_the_nonce_extension_is_refused(device: FakeDevice, key: Any) -> None:
    _refused("attestation_invalid", "nonce_missing", _attest, device, key, with_nonce=False)


@pytest.mark.parametrize(
    "encode",
    [
        lambda nonce: b"\x04\x20" + nonce,  # a bare OCTET STRING, no SEQUENCE
        lambda nonce: b"\x31" + nonce_extension(nonce)[1:],  # a SET, not a SEQUENCE
        lambda nonce: nonce_extension(nonce)[:-10],  # truncated
        lambda nonce: b"\x30\x83\x00\x00\x24" + nonce_extension(nonce)[2:],  # 3-byte length
        lambda nonce: b"\x30\x80" + nonce_extension(nonce)[2:],  # indefinite length (BER)
    ],
)
def test_nonce_extension_not_in_apples_encoding_is_refused(
    device: FakeDevice, key: Any, encode: Any
) -> None:
    forged = {"leaf_overrides": {"encode": encode}}
    _refused("attestation_invalid", "nonce_missing", _attest, device, key, **forged)


def test_key_id_of_the_wrong_length_is_refused(device: FakeDevice, key: Any) -> None:
    short = b64(device.key_id_bytes[:16])
    _refused("attestation_invalid", "malformed", _attest, device, key, key_id=short)


def test_truncated_authenticator_data_is_refused(device: FakeDevice, key: Any) -> None:
    _refused("attestation_invalid", "malformed", _attest, device, key, auth_data_length=54)


@pytest.mark.parametrize("x5c", [[], "not a list", [b"\x30\x00"] * 5])
def test_certificate_list_of_the_wrong_shape_is_refused(
    device: FakeDevice, key: Any, x5c: Any
) -> None:
    _refused("attestation_invalid", "certificate_chain", _attest, device, key, x5c=x5c)


def test_key_id_of_another_key_is_refused(device: FakeDevice, key: Any, apple: FakeApple) -> None:
    other = FakeDevice(apple).key_id
    _refused("attestation_invalid", "key_id_mismatch", _attest, device, key, key_id=other)


def test_rp_id_of_another_app_is_refused(device: FakeDevice, key: Any) -> None:
    forged = {"rp_app_id": "ABCDE12345.com.example.evil"}
    _refused("attestation_invalid", "rp_id_mismatch", _attest, device, key, **forged)


def test_every_configured_app_id_is_accepted(apple: FakeApple, key: Any) -> None:
    assert _attest(FakeDevice(apple, "OTHER12345.com.example.other"), key)


def test_counter_other_than_zero_is_refused(device: FakeDevice, key: Any) -> None:
    _refused("attestation_invalid", "counter_not_zero", _attest, device, key, counter=1)


def test_development_key_is_refused_in_production(device: FakeDevice, key: Any) -> None:
    development = {"aaguid": AAGUIDS["development"]}
    _refused("attestation_invalid", "aaguid_mismatch", _attest, device, key, **development)


def test_production_key_is_refused_in_development(
    settings: Any, device: FakeDevice, key: Any
) -> None:
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APP_ATTEST_ENVIRONMENT": "development"}
    _refused("attestation_invalid", "aaguid_mismatch", _attest, device, key)
    assert _attest(device, key, aaguid=AAGUIDS["development"])


def test_credential_id_of_another_key_is_refused(device: FakeDevice, key: Any) -> None:
    forged = {"credential_id": b"\x01" * 32}
    _refused("attestation_invalid", "credential_id_mismatch", _attest, device, key, **forged)


def test_other_attestation_format_is_refused(device: FakeDevice, key: Any) -> None:
    _refused("attestation_invalid", "format", _attest, device, key, fmt="packed")


def test_client_data_without_a_server_challenge_is_refused(device: FakeDevice, key: Any) -> None:
    for client_data in (b'{"challenge": "1.2.3"}', b'{"nonce": "x"}', b"[]", b"not json"):
        _refused(
            "attestation_invalid",
            "challenge_invalid" if client_data.startswith(b"{") else "client_data_malformed",
            _attest,
            device,
            key,
            client_data=client_data,
        )


def test_expired_challenge_is_refused(device: FakeDevice, key: Any) -> None:
    stale = app_attest_challenge_issue(now=NOW.timestamp() - 301)
    client_data = device.client_data(stale)
    _refused(
        "attestation_invalid", "challenge_invalid", _attest, device, key, client_data=client_data
    )


@pytest.mark.parametrize(
    ("attestation", "reason"),
    [
        ("", "malformed"),
        ("!!!not base64!!!", "malformed"),
        (b64(b"\xff\x00garbage"), "malformed"),
        ("A" * 40_000, "malformed"),
        (None, "malformed"),
        (b64(b"\x80"), "malformed"),  # a CBOR array, not a map
        (b64(b"\xa0"), "format"),  # an empty map
    ],
)
def test_malformed_attestations_are_refused_cleanly(
    device: FakeDevice, key: Any, attestation: Any, reason: str
) -> None:
    _refused(
        "attestation_invalid",
        reason,
        verify_attestation,
        key_id=device.key_id,
        attestation=attestation,
        client_data=b64(device.client_data()),
        api_key=key,
    )


def test_refusal_event_names_the_device(device: FakeDevice, key: Any) -> None:
    with pytest.raises(ProtectionError):
        _attest(device, key, counter=5)
    event = SecurityEvent.objects.get(decision="deny")
    assert event.details == {"verifier": "app_attest", "device_id": device.key_id}
    assert event.client_ip == "198.51.100.4"
    assert event.api_key == key


# --- assertions ----------------------------------------------------------------------


@pytest.fixture
def attested(device: FakeDevice, key: Any) -> FakeDevice:
    _attest(device, key)
    return device


def _assert(device: FakeDevice, key: Any, **forge: Any) -> Any:
    client_data = forge.pop("client_data", None) or device.client_data(
        method="POST", path="/api/v1/persons"
    )
    key_id = forge.pop("key_id", device.key_id)
    api_key = forge.pop("api_key", key)
    return verify_assertion(
        key_id=key_id,
        assertion=device.assertion(client_data, **forge),
        client_data=b64(client_data),
        api_key=api_key,
        method="POST",
        path="/api/v1/persons",
    )


def test_valid_assertions_move_the_counter(attested: FakeDevice, key: Any) -> None:
    assert _assert(attested, key).sign_count == 1
    assert _assert(attested, key).sign_count == 2
    assert _assert(attested, key, counter=10).sign_count == 10
    assert AppAttestKey.objects.get().sign_count == 10


def test_stale_counter_is_refused(attested: FakeDevice, key: Any) -> None:
    _assert(attested, key, counter=5)
    _refused("attestation_replayed", "stale_counter", _assert, attested, key, counter=5)
    _refused("attestation_replayed", "stale_counter", _assert, attested, key, counter=4)
    assert AppAttestKey.objects.get().sign_count == 5


def test_a_replayed_assertion_is_refused(attested: FakeDevice, key: Any) -> None:
    client_data = attested.client_data(method="POST", path="/api/v1/persons")
    assertion = attested.assertion(client_data)
    kwargs = {
        "key_id": attested.key_id,
        "assertion": assertion,
        "client_data": b64(client_data),
        "api_key": key,
    }
    verify_assertion(**kwargs)
    _refused("attestation_replayed", "stale_counter", verify_assertion, **kwargs)


def test_assertion_signed_by_another_key_is_refused(attested: FakeDevice, key: Any) -> None:
    thief = ec.generate_private_key(ec.SECP256R1())
    _refused("attestation_invalid", "bad_signature", _assert, attested, key, signing_key=thief)


def test_assertion_over_other_client_data_is_refused(attested: FakeDevice, key: Any) -> None:
    other = attested.client_data(method="POST", path="/api/v1/persons")
    forged = {"signed_client_data": other}
    _refused("attestation_invalid", "bad_signature", _assert, attested, key, **forged)


def test_assertion_for_another_app_is_refused(attested: FakeDevice, key: Any) -> None:
    forged = {"rp_app_id": "OTHER12345.com.example.other"}
    _refused("attestation_invalid", "rp_id_mismatch", _assert, attested, key, **forged)


def test_assertion_by_an_unattested_key_is_refused(device: FakeDevice, key: Any) -> None:
    _refused("attestation_invalid", "unknown_key", _assert, device, key)


def test_assertion_under_another_api_key_is_refused(
    attested: FakeDevice, key: Any, make_api_key: Any
) -> None:
    other_key, _ = make_api_key(name="other app")
    _refused("attestation_invalid", "unknown_key", _assert, attested, key, api_key=other_key)


def test_assertion_by_a_deleted_key_is_refused_even_once_cached(
    attested: FakeDevice, key: Any
) -> None:
    _assert(attested, key)  # the process now holds the key
    AppAttestKey.objects.all().delete()
    _refused("attestation_invalid", "unknown_key", _assert, attested, key)


def test_assertion_client_data_must_hold_a_challenge_and_the_request(
    attested: FakeDevice, key: Any
) -> None:
    cases = {
        "challenge_invalid": attested.client_data("1.2.3", method="POST", path="/api/v1/persons"),
        "method_mismatch": attested.client_data(method="GET", path="/api/v1/persons"),
        "path_mismatch": attested.client_data(method="POST", path="/api/v1/persons/lookup"),
    }
    for reason, client_data in cases.items():
        _refused("attestation_invalid", reason, _assert, attested, key, client_data=client_data)


def test_malformed_assertion_is_refused_cleanly(attested: FakeDevice, key: Any) -> None:
    client_data = attested.client_data()
    for assertion in ("", b64(b"\xa1\x01\x02"), b64(b"\x80"), "Q" * 5000):
        _refused(
            "attestation_invalid",
            "malformed",
            verify_assertion,
            key_id=attested.key_id,
            assertion=assertion,
            client_data=b64(client_data),
            api_key=key,
        )


# --- automatic blocking ----------------------------------------------------------------


def test_failures_count_toward_blocking_the_device_and_the_ip(
    settings: Any, device: FakeDevice, key: Any
) -> None:
    rule = {"threshold": 3, "window": 600, "duration": 600, "escalation": 2, "max_duration": 3600}
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [
            {"name": "device", "dimension": "device", "kinds": ["attestation_invalid"], **rule},
            {"name": "ip", "dimension": "ip", "kinds": ["attestation_invalid"], **rule},
        ],
    }
    for _ in range(3):
        with pytest.raises(ProtectionError):
            _attest(device, key, counter=1)
    blocked = set(BlockedClient.objects.values_list("kind", "value"))
    # The key id of a failed attestation is only a claim: it is blocked as
    # that claim under this API key, never as the device (issue 23, point 3).
    claim = device_claim_value(api_key_public_id=key.public_id, device_id=device.key_id)
    assert ("device", claim) in blocked
    assert ("device", device.key_id) not in blocked
    assert ("ip", "198.51.100.4") in blocked


def test_default_rules_block_a_device_and_an_ip_that_keep_failing(
    settings: Any, device: FakeDevice, key: Any
) -> None:
    from protection.conf import DEFAULTS

    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_RULES": DEFAULTS["AUTO_BLOCK_RULES"]}
    for _ in range(30):
        with pytest.raises(ProtectionError):
            _attest(device, key, counter=1)
    blocked = set(BlockedClient.objects.values_list("kind", "value"))
    claim = device_claim_value(api_key_public_id=key.public_id, device_id=device.key_id)
    assert ("device", claim) in blocked
    assert ("device", device.key_id) not in blocked
    assert ("ip", "198.51.100.4") in blocked


# --- configuration --------------------------------------------------------------------


def test_an_unknown_environment_is_a_startup_error(settings: Any) -> None:
    from django.core import checks

    settings.GATEHOUSE = {**settings.GATEHOUSE, "APP_ATTEST_ENVIRONMENT": "prod"}
    assert [e.id for e in checks.run_checks() if e.id == "protection.E014"] == ["protection.E014"]


def test_a_replaced_root_is_flagged_by_the_deploy_check(settings: Any) -> None:
    from django.core import checks

    settings.DEBUG = False
    found = {e.id for e in checks.run_checks(include_deployment_checks=True)}
    assert "protection.W014" in found
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APP_ATTEST_ROOT_CA_PEM": ""}
    found = {e.id for e in checks.run_checks(include_deployment_checks=True)}
    assert "protection.W014" not in found


# --- concurrency ------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_copies_of_one_assertion_racing_on_several_connections_pass_once(
    device: FakeDevice, key: Any
) -> None:
    import threading

    from django.db import connection

    _attest(device, key)
    client_data = device.client_data(method="POST", path="/api/v1/persons")
    kwargs = {
        "key_id": device.key_id,
        "assertion": device.assertion(client_data),
        "client_data": b64(client_data),
        "api_key": key,
    }
    start = threading.Barrier(8)
    outcomes: list[str] = []

    def race() -> None:
        try:
            start.wait()
            verify_assertion(**kwargs)
            outcomes.append("accepted")
        except ProtectionError as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["accepted"] + ["attestation_replayed"] * 7
