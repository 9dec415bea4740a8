"""Test support for DPoP: a client key and the proofs a real client would sign
(RFC 9449 section 4.2), with every field overridable to forge bad ones."""

import base64
import hashlib
import json
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

BASE_URL = "https://signup-api.example.com"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class DpopClient:
    """A client holding one P-256 key (as in the Secure Enclave or Keystore)."""

    def __init__(self, private_key: Any = None, algorithm: str = "ES256") -> None:
        self.private_key = private_key or ec.generate_private_key(ec.SECP256R1())
        self.algorithm = algorithm
        self.jwk = self._public_jwk()

    def _public_jwk(self) -> dict[str, Any]:
        algorithm = jwt.get_algorithm_by_name(self.algorithm)
        return json.loads(algorithm.to_jwk(self.private_key.public_key()))

    def proof(
        self,
        *,
        method: str = "POST",
        url: str = BASE_URL + "/api/v1/persons/lookup",
        access_token: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        claims: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        signing_key: Any = None,
    ) -> str:
        payload: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time() if iat is None else iat),
        }
        if access_token is not None:
            payload["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        payload.update(claims or {})
        for name in drop:
            payload.pop(name, None)
        header = {"typ": "dpop+jwt", "jwk": self.jwk, **(headers or {})}
        return jwt.encode(
            payload, signing_key or self.private_key, algorithm=self.algorithm, headers=header
        )


def unsigned_proof(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    """A compact JWS assembled by hand (for alg "none" and HMAC forgeries)."""
    head = b64url(json.dumps(header).encode())
    body = b64url(json.dumps(payload).encode())
    return f"{head}.{body}.{b64url(signature)}"
