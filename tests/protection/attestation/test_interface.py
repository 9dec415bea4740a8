"""The one entry point: what a key requires, optional evidence, the registry, blocking."""

import copy
import json
import os
from collections.abc import Iterator

import jwt
import pytest

from protection.attestation import (
    Attested,
    attestation_required,
    attestation_verifiers,
    attestation_verify,
    verifier_register,
    verifier_unregister,
)
from protection.attestation.base import AttestationFailure
from protection.base.exceptions import ProtectionError
from protection.blocks.models import BlockedClient
from protection.conf import DEFAULTS
from protection.core.events import SecurityEvent
from protection.sessions.devices import device_claim_value
from tests.support.attestation import NOW, b64url, sha256_b64

pytestmark = pytest.mark.django_db

RAW_KEY = "gh_pub_interface-test"


@pytest.fixture
def secret(settings) -> bytes:
    value = os.urandom(32)
    settings.GATEHOUSE = {**settings.GATEHOUSE, "APPROOV_SECRET": b64url(value)}
    return value


def approov(secret: bytes, *, did: str = "device-1", **claims) -> str:
    body = {"exp": int(NOW.timestamp()) + 300, "did": did, "pay": sha256_b64(RAW_KEY), **claims}
    return jwt.encode(body, secret, algorithm="HS256")


def verify(api_key, *, purpose="session", client_ip="192.0.2.10", **headers):
    return attestation_verify(
        api_key=api_key,
        evidence={"X-Api-Key": RAW_KEY, **headers},
        purpose=purpose,
        client_ip=client_ip,
        now=NOW,
    )


def test_sessions_need_what_the_key_requires_requests_only_when_asked(make_api_key):
    plain, _ = make_api_key(required_verifications=["pow", "approov", "app_check"])
    every, _ = make_api_key(required_verifications=["approov"], attest_every_request=True)
    assert attestation_required(api_key=plain, purpose="session") == ("approov", "app_check")
    assert attestation_required(api_key=plain, purpose="request") == ()
    assert attestation_required(api_key=every, purpose="request") == ("approov",)


def test_without_requirements_or_evidence_nothing_is_checked(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["pow"])
    assert verify(api_key).verified == ()
    key_with_approov, _ = make_api_key(required_verifications=["approov"])
    # Lookup and create of a key without attest_every_request ask for nothing.
    assert verify(key_with_approov, purpose="request").verified == ()
    assert not SecurityEvent.objects.filter(kind__startswith="attestation").exists()


def test_every_request_mode_requires_the_evidence_on_requests(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["approov"], attest_every_request=True)
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, purpose="request", Authorization="Bearer x")
    assert excinfo.value.code == "attestation_required"
    token = approov(secret, pay=sha256_b64("Bearer x"))
    result = verify(
        api_key, purpose="request", Authorization="Bearer x", **{"Approov-Token": token}
    )
    assert result == result.__class__(verified=("approov",), device_id="device-1")


def test_present_but_invalid_evidence_fails_even_when_optional(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["pow"])
    forged = approov(os.urandom(32))
    for purpose in ("session", "request"):
        with pytest.raises(ProtectionError) as excinfo:
            verify(api_key, purpose=purpose, **{"Approov-Token": forged})
        assert excinfo.value.code == "attestation_invalid"
    # Valid optional evidence passes and still names the device.
    assert verify(api_key, **{"Approov-Token": approov(secret)}).device_id == "device-1"


def test_evidence_for_an_unconfigured_optional_verifier_is_ignored(make_api_key):
    api_key, _ = make_api_key(required_verifications=["pow"])  # no Approov secret set
    assert verify(api_key, **{"Approov-Token": "anything"}).verified == ()


def test_every_required_verifier_must_pass(make_api_key, secret, settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPCHECK_PROJECT_NUMBER": "123",
        "APPCHECK_APP_IDS": ["1:123:android:a"],
    }
    api_key, _ = make_api_key(required_verifications=["approov", "app_check"])
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, **{"Approov-Token": approov(secret)})
    assert excinfo.value.code == "attestation_required"
    assert excinfo.value.extra == {"verifier": "app_check"}
    assert "x-firebase-appcheck" in excinfo.value.detail


def test_header_names_are_case_insensitive(make_api_key, secret):
    api_key, _ = make_api_key(required_verifications=["approov"])
    result = attestation_verify(
        api_key=api_key,
        evidence={"APPROOV-TOKEN": approov(secret), "x-API-key": RAW_KEY, "junk": None},
        purpose="session",
        now=NOW,
    )
    assert result.verified == ("approov",)


def test_an_unknown_purpose_is_a_programming_error(make_api_key):
    api_key, _ = make_api_key()
    with pytest.raises(ValueError):
        attestation_verify(api_key=api_key, evidence={}, purpose="lookup")


# --- the registry: how app_attest (or any verifier) plugs in ---------------------------------


class FakeAttest:
    """A stand-in verifier reading X-Test-Attest: "ok:<device>" passes, anything else fails."""

    name = "app_attest"

    def evidence_keys(self) -> tuple[str, ...]:
        return ("x-test-attest",)

    def configured(self, *, api_key) -> bool:
        return True

    def verify(self, *, api_key, evidence, purpose, bound_value, now) -> Attested:
        value = evidence["x-test-attest"]
        if value.startswith("ok:"):
            return Attested(verifier=self.name, device_id=value[3:])
        if value == "again":
            raise AttestationFailure("attestation_replayed", "counter", device_id="dev-r")
        raise AttestationFailure("attestation_invalid", "bad_assertion")


@pytest.fixture
def fake_app_attest() -> Iterator[None]:
    previous = attestation_verifiers().get("app_attest")
    verifier_register(FakeAttest())
    yield
    verifier_unregister("app_attest")
    if previous is not None:
        verifier_register(previous)


def test_a_registered_verifier_is_used_by_name(make_api_key, fake_app_attest):
    api_key, _ = make_api_key(required_verifications=["app_attest"])
    result = verify(api_key, **{"X-Test-Attest": "ok:ios-key-1"})
    assert (result.verified, result.device_id) == (("app_attest",), "ios-key-1")
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, **{"X-Test-Attest": "again"})
    assert excinfo.value.code == "attestation_replayed"
    event = SecurityEvent.objects.filter(kind__startswith="attestation").latest("id")
    assert (event.kind, event.reason, event.details["device_id"]) == (
        "attestation_replayed",
        "app_attest_counter",
        "dev-r",
    )


def test_a_required_verifier_that_is_not_installed_is_unavailable(make_api_key):
    previous = attestation_verifiers().get("app_attest")
    verifier_unregister("app_attest")
    try:
        api_key, _ = make_api_key(required_verifications=["app_attest"])
        with pytest.raises(ProtectionError) as excinfo:
            verify(api_key)
        assert (excinfo.value.code, excinfo.value.status) == ("attestation_unavailable", 503)
    finally:
        if previous is not None:
            verifier_register(previous)


# --- automatic blocking counts attestation failures ------------------------------------------


@pytest.fixture
def low_thresholds(settings) -> None:
    """The default rules, with thresholds of 3, so the kinds they list are what is tested."""
    rules = copy.deepcopy(DEFAULTS["AUTO_BLOCK_RULES"])
    for rule in rules:
        rule["threshold"] = 3
    settings.GATEHOUSE = {**settings.GATEHOUSE, "AUTO_BLOCK_RULES": rules}


def test_repeated_failures_block_the_ip(make_api_key, secret, low_thresholds):
    api_key, _ = make_api_key(required_verifications=["approov"])
    for _ in range(3):
        with pytest.raises(ProtectionError):
            verify(api_key, client_ip="192.0.2.99", **{"Approov-Token": approov(os.urandom(32))})
    block = BlockedClient.objects.get(kind="ip", value="192.0.2.99")
    assert block.created_by_rule == "ip-verification-failures"


def test_repeated_failures_of_one_device_block_the_device(make_api_key, secret, low_thresholds):
    api_key, _ = make_api_key(required_verifications=["approov"])
    expired = approov(secret, did="stolen-device", exp=int(NOW.timestamp()) - 3600)
    for number in range(3):  # from three different IPs: only the device rule can add them up
        with pytest.raises(ProtectionError):
            verify(api_key, client_ip=f"198.51.100.{number + 1}", **{"Approov-Token": expired})
    # Its did is signed, but the token failed: the id counts only as a claim
    # under this key, so a stolen token cannot get the device itself blocked.
    claim = device_claim_value(api_key_public_id=api_key.public_id, device_id="stolen-device")
    assert BlockedClient.objects.get(kind="device", value=claim).created_by_rule == ("device-abuse")
    assert not BlockedClient.objects.filter(kind="device", value="stolen-device").exists()


def test_replays_count_too(make_api_key, fake_app_attest, low_thresholds):
    api_key, _ = make_api_key(required_verifications=["app_attest"])
    for number in range(3):
        with pytest.raises(ProtectionError):
            verify(api_key, client_ip=f"203.0.113.{number + 1}", **{"X-Test-Attest": "again"})
    claim = device_claim_value(api_key_public_id=api_key.public_id, device_id="dev-r")
    assert BlockedClient.objects.filter(kind="device", value=claim).exists()


def test_an_unavailable_verifier_blocks_nobody(make_api_key, settings, low_thresholds):
    api_key, _ = make_api_key(required_verifications=["approov"])  # no secret configured
    for _ in range(3):
        with pytest.raises(ProtectionError):
            verify(api_key, client_ip="192.0.2.50", **{"Approov-Token": "x"})
    assert not BlockedClient.objects.exists()


# --- what the client sees ------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, status",
    [
        ("attestation_required", 403),
        ("attestation_invalid", 403),
        ("attestation_replayed", 403),
        ("attestation_unavailable", 503),
    ],
)
def test_refusals_render_as_problem_json_naming_the_verifier(make_api_key, secret, code, status):
    from protection.errors import problem_for_exception

    api_key, _ = make_api_key(required_verifications=["approov"])
    error = ProtectionError(code, extra={"verifier": "approov"})
    response = problem_for_exception(error)
    body = json.loads(response.content)
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    assert (body["code"], body["status"], body["verifier"]) == (code, status, "approov")
    # And a real refusal carries exactly that.
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, **{"Approov-Token": "garbage"})
    refused = json.loads(problem_for_exception(excinfo.value).content)
    assert (refused["code"], refused["verifier"]) == ("attestation_invalid", "approov")
