"""Approov: a short-lived JWT the Approov SDK adds to the app's requests.

The token (``Approov-Token`` header, name configurable) is signed HS256 with
the account secret (``APPROOV_SECRET``, or a named one a key picks), or with
one configured asymmetric algorithm and public key. Checked here:

- the algorithm is one we pinned: HS256 with the secret, or exactly
  ``APPROOV_PUBLIC_KEY_ALGORITHM`` with the public key — never ``none``,
  never HS256 keyed with the public key;
- the header's ``typ``, where present, is ``JWT`` (never ``at+jwt``);
- the signature, then ``exp`` (required, a finite number; ``APPROOV_LEEWAY``
  seconds of skew; at most ``APPROOV_MAX_LIFETIME`` seconds ahead);
- ``pay`` (token binding): base64 (either alphabet, padding optional) of
  the SHA-256 of the bound header's value, compared in constant time. The
  bound header is ``X-Api-Key`` on ``POST /api/v1/sessions`` and
  ``APPROOV_BINDING_HEADER`` (``Authorization``) afterwards. A token without
  ``pay`` is refused unless ``APPROOV_ALLOW_MISSING_PAY``;
- ``did`` becomes the device id.
"""

import datetime
import functools
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.serialization import load_pem_public_key

from protection.attestation.base import (
    MAX_DEVICE_ID_CHARS,
    MAX_EVIDENCE_CHARS,
    Attested,
    Purpose,
    b64decode_any,
    invalid,
    numeric_claim,
    signed_claims,
    token_replay_id,
    unavailable,
    unverified_header,
    verifier_register,
)
from protection.conf import gatehouse_settings

NAME = "approov"
SYMMETRIC_ALGORITHM = "HS256"
MIN_SECRET_BYTES = 32
# What APPROOV_PUBLIC_KEY_ALGORITHM may name (PyJWT's asymmetric algorithms).
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
SESSION_BINDING_HEADER = "x-api-key"


def approov_secret_decode(value: str) -> bytes:
    """Decode a configured secret; ValueError if not base64 or under 32 bytes."""
    secret = b64decode_any(value)
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"{len(secret)} bytes, at least {MIN_SECRET_BYTES} needed")
    return secret


@functools.lru_cache(maxsize=8)
def _secret_bytes(value: str) -> bytes | None:
    try:
        return approov_secret_decode(value)
    except ValueError:
        return None  # refused at start-up (protection.E006); here: not configured


@functools.lru_cache(maxsize=4)
def approov_public_key(pem: str) -> Any:
    """The configured public key object (ValueError if the PEM does not load)."""
    return load_pem_public_key(pem.encode())


def _secret_for(api_key: Any) -> bytes | None:
    name = (getattr(api_key, "attestation_overrides", None) or {}).get("approov_secret")
    if name:
        value = (gatehouse_settings.APPROOV_SECRETS or {}).get(str(name).lower(), "")
    else:
        value = gatehouse_settings.APPROOV_SECRET
    return _secret_bytes(value) if value else None


def _public_key() -> tuple[str, Any] | None:
    pem = gatehouse_settings.APPROOV_PUBLIC_KEY
    algorithm = gatehouse_settings.APPROOV_PUBLIC_KEY_ALGORITHM
    if not pem or algorithm not in ASYMMETRIC_ALGORITHMS:
        return None
    try:
        return algorithm, approov_public_key(pem)
    except ValueError:
        return None  # refused at start-up (protection.E006)


def _pay_matches(pay: Any, bound_value: str) -> bool:
    try:
        claimed = b64decode_any(pay)
    except ValueError:
        return False
    expected = hashlib.sha256(bound_value.encode()).digest()
    return hmac.compare_digest(claimed, expected)


class ApproovVerifier:
    name = NAME

    def evidence_keys(self) -> tuple[str, ...]:
        return (gatehouse_settings.APPROOV_HEADER.lower(),)

    def configured(self, *, api_key: Any) -> bool:
        return _secret_for(api_key) is not None or _public_key() is not None

    def verify(
        self,
        *,
        api_key: Any,
        evidence: Mapping[str, str],
        purpose: Purpose,
        bound_value: str | None,
        now: datetime.datetime,
    ) -> Attested:
        token = evidence.get(self.evidence_keys()[0], "")
        if not token or len(token) > MAX_EVIDENCE_CHARS:
            raise invalid("malformed")
        secret, public = _secret_for(api_key), _public_key()
        if secret is None and public is None:
            raise unavailable("not_configured")
        try:
            header = unverified_header(token)
        except ValueError:
            raise invalid("malformed") from None
        algorithm, token_type = header.get("alg"), header.get("typ")
        # Approov tokens are plain JWTs; an OAuth access token (at+jwt) or any
        # other type signed with the same key is not one.
        if token_type is not None and (
            not isinstance(token_type, str) or token_type.upper() != "JWT"
        ):
            raise invalid("typ_invalid")
        # The key follows from the algorithm we pinned, never from the token:
        # HS256 is only ever keyed with the secret.
        if algorithm == SYMMETRIC_ALGORITHM and secret is not None:
            key: Any = secret
        elif public is not None and algorithm == public[0]:
            key = public[1]
        else:
            raise invalid("alg_not_allowed")
        # Claims are checked below, each with its own reason and the injected ``now``.
        claims = signed_claims(token, key, algorithm=algorithm)
        did = claims.get("did")
        device_id = did[:MAX_DEVICE_ID_CHARS] if isinstance(did, str) and did else None
        expires = numeric_claim(claims, "exp")
        if expires is None:
            raise invalid("exp_missing", device_id=device_id)
        leeway = float(gatehouse_settings.APPROOV_LEEWAY)
        if now.timestamp() > expires + leeway:
            raise invalid("expired", device_id=device_id)
        # Approov tokens live minutes: one valid for years is not one of them.
        if expires - now.timestamp() > float(gatehouse_settings.APPROOV_MAX_LIFETIME) + leeway:
            raise invalid("exp_too_far", device_id=device_id)
        if bound_value is None:
            bound_value = evidence.get(self.binding_header(purpose))
        if "pay" in claims:
            if bound_value is None:
                raise invalid("pay_unbound", device_id=device_id)
            if not _pay_matches(claims["pay"], bound_value):
                raise invalid("pay_mismatch", device_id=device_id)
        elif not gatehouse_settings.APPROOV_ALLOW_MISSING_PAY:
            raise invalid("pay_missing", device_id=device_id)
        return Attested(
            verifier=NAME,
            device_id=device_id,
            replay_id=token_replay_id(token),
            replay_until=expires + leeway,
        )

    def binding_header(self, purpose: Purpose) -> str:
        """The lower-cased header ``pay`` binds for ``purpose``."""
        if purpose == "session":
            return SESSION_BINDING_HEADER
        return gatehouse_settings.APPROOV_BINDING_HEADER.lower()


approov_verifier = verifier_register(ApproovVerifier())
