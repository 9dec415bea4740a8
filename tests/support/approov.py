"""Approov tokens minted in tests: an HMAC account secret, the device ``did``
and ``pay`` (the SHA-256 of the raw API key the token is bound to)."""

import base64
import datetime
import hashlib

import jwt
import pytest

from protection.attestation import attestation_verify
from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent
from tests.support.attestation import NOW, sha256_b64

RAW_KEY = "gh_pub_example-raw-key"  # only hashed into "pay"; never looked up here
DEVICE = "ZGV2aWNlLTE="


def token(secret: bytes, *, algorithm: str = "HS256", **claims) -> str:
    """A token at the fixed ``NOW`` of the verifier tests (``None`` drops a claim)."""
    body = {"exp": int(NOW.timestamp()) + 300, "did": DEVICE, "pay": sha256_b64(RAW_KEY), **claims}
    body = {name: value for name, value in body.items() if value is not None}
    return jwt.encode(body, secret, algorithm=algorithm)


def approov(secret: bytes, *, bound: str, device: str = DEVICE) -> str:
    """A token valid now, bound to the raw key ``bound`` (for requests over HTTP)."""
    claims = {
        "exp": int(datetime.datetime.now(tz=datetime.UTC).timestamp()) + 300,
        "did": device,
        "pay": base64.b64encode(hashlib.sha256(bound.encode()).digest()).decode(),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(api_key, approov_token: str, *, purpose="session", now=NOW, **headers):
    evidence = {"Approov-Token": approov_token, "X-Api-Key": RAW_KEY, **headers}
    return attestation_verify(
        api_key=api_key, evidence=evidence, purpose=purpose, client_ip="203.0.113.7", now=now
    )


def refused(api_key, approov_token: str, *, code="attestation_invalid", **kwargs) -> str:
    """Assert a refusal with ``code``; return the recorded event's reason."""
    with pytest.raises(ProtectionError) as excinfo:
        verify(api_key, approov_token, **kwargs)
    assert excinfo.value.code == code
    assert excinfo.value.status == 403
    assert excinfo.value.extra == {"verifier": "approov"}
    event = SecurityEvent.objects.latest("id")
    assert (event.decision, event.client_ip) == ("deny", "203.0.113.7")
    assert event.details["verifier"] == "approov"
    return event.reason
