"""Checking a received webhook's signature the way docs/webhooks.md tells consumers to."""

import base64
import hashlib
import hmac


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard library only (no timestamp tolerance: tests run on a fixed clock)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(signature.removeprefix("v1,"), expected)
        for signature in headers["webhook-signature"].split()
        if signature.startswith("v1,")
    )
