"""The contract every attestation verifier keeps, and the registry of verifiers.

A verifier reads its evidence (lower-cased header names, or body fields it
names) and either returns an ``Attested`` or raises ``AttestationFailure``
with a catalogue code and a short reason. It never records events and never
raises ``ProtectionError``: ``protection.attestation.attestation_verify``
decides what is required, records the event and turns the failure into the
API error, the same way for every verifier.

A new verifier (Apple App Attest: ``protection.attestation.app_attest``)
calls ``verifier_register(...)`` at import; ``attestation_verify`` imports the
modules named in ``VERIFIER_MODULES`` on first use.
"""

import base64
import binascii
import datetime
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import jwt

Purpose = Literal["session", "request"]

# Longest evidence value read at all; a real token is a few hundred bytes.
MAX_EVIDENCE_CHARS = 8192
# Device ids are stored on sessions and blocks (128 characters there).
MAX_DEVICE_ID_CHARS = 128


class AttestationFailure(Exception):
    """A verifier's refusal.

    ``code`` is an ERROR_CATALOGUE code (``attestation_invalid``,
    ``attestation_replayed``, ``attestation_unavailable``); ``reason`` a short
    word for the event (``expired``, ``bad_signature``...); ``device_id`` the
    device the evidence names when it could be read (so device blocks count it).
    """

    def __init__(self, code: str, reason: str, *, device_id: str | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
        self.device_id = device_id


def invalid(reason: str, *, device_id: str | None = None) -> AttestationFailure:
    return AttestationFailure("attestation_invalid", reason, device_id=device_id)


def unavailable(reason: str) -> AttestationFailure:
    return AttestationFailure("attestation_unavailable", reason)


@dataclass(frozen=True)
class Attested:
    """Evidence that passed: which verifier, and the device it names (if any).

    ``replay_id`` names this very piece of evidence (a digest of the token)
    and ``replay_until`` when it stops being accepted anyway (its ``exp``
    plus the leeway): at session start the evidence is single-use, claimed
    in the request's round trip until then.
    """

    verifier: str
    device_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    replay_id: str | None = None
    replay_until: float = 0.0


@runtime_checkable
class Verifier(Protocol):
    """One kind of attestation evidence (its ``name`` is a verification name)."""

    name: str

    def evidence_keys(self) -> tuple[str, ...]:
        """Lower-cased header names (or body fields) whose presence means
        the client sent this evidence. Read from settings on each call."""
        ...

    def configured(self, *, api_key: Any) -> bool:
        """True when this deployment (and key) can check the evidence at all."""
        ...

    def verify(
        self,
        *,
        api_key: Any,
        evidence: Mapping[str, str],
        purpose: Purpose,
        bound_value: str | None,
        now: datetime.datetime,
    ) -> Attested:
        """Return ``Attested`` or raise ``AttestationFailure``."""
        ...


_registry: dict[str, Verifier] = {}


def verifier_register(verifier: Verifier) -> Verifier:
    """Add (or replace, by name) a verifier; returns it, so it works as a decorator."""
    _registry[verifier.name] = verifier
    return verifier


def verifier_unregister(name: str) -> None:
    _registry.pop(name, None)


def registered_verifiers() -> dict[str, Verifier]:
    """The verifiers by name, in registration order."""
    return dict(_registry)


def b64decode_any(text: str) -> bytes:
    """Decode base64 in either alphabet (standard or URL-safe), padding optional.

    Raises ValueError for anything else (whitespace inside, stray characters).
    """
    if not isinstance(text, str):
        raise ValueError("not text")
    value = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    if not value or len(value) % 4 == 1:
        raise ValueError("not base64")
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (ValueError, binascii.Error) as exc:
        raise ValueError("not base64") from exc


def unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a compact JWT, read without verifying anything.

    Only the first segment is decoded: PyJWT's ``get_unverified_header``
    parses (and checks character by character) the whole token, signature
    included, which cost as much again as the verification itself.
    Raises ValueError for anything that is not a three-segment token with a
    JSON object header.
    """
    segment, dot, rest = token.partition(".")
    if not dot or rest.count(".") != 1 or not segment.isascii():
        raise ValueError("not a compact JWT")
    value = segment.rstrip("=")
    try:
        header = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise ValueError("unreadable JWT header") from exc
    if not isinstance(header, dict):
        raise ValueError("JWT header is not an object")
    return header


def numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    """A finite numeric claim (int or float, never a bool, never NaN or infinite), or None.

    ``exp`` NaN compared false with every time, so it never expired.
    """
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    return number if math.isfinite(number) else None


def token_replay_id(token: str) -> str:
    """What names a token in the replay store (its SHA-256, never the token)."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def signed_claims(token: str, key: Any, *, algorithm: str) -> dict[str, Any]:
    """The claims of ``token`` once its signature checks with ``key`` under
    exactly ``algorithm``; the caller checks every claim itself (each with its
    own reason, against the injected ``now``). Raises ``AttestationFailure``."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.InvalidSignatureError:
        raise invalid("bad_signature") from None
    except jwt.PyJWTError:
        raise invalid("malformed") from None
