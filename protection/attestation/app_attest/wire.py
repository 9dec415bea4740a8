"""What App Attest objects are made of on the wire: base64 headers, CBOR maps,
and the refusal every check raises.

Sizes are checked before anything is decoded: a real attestation is ~5.5 KB
(most of it the receipt), an assertion ~100 bytes, client data a small JSON
object.
"""

import base64
import binascii
from typing import Any, NamedTuple

import cbor2

NAME = "app_attest"
MAX_ATTESTATION_BYTES = 16 * 1024
MAX_ASSERTION_BYTES = 1024
MAX_CLIENT_DATA_BYTES = 2048
KEY_ID_BYTES = 32


class Refused(Exception):
    """A check failed: ``code`` is the catalogue code, ``reason`` the event's reason."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def invalid(reason: str) -> Refused:
    return Refused("attestation_invalid", reason)


class AttestedDevice(NamedTuple):
    """A verified App Attest key: ``device_id`` feeds the session and device blocks."""

    key_id: str
    app_id: str
    sign_count: int

    @property
    def device_id(self) -> str:
        return self.key_id


def b64decode(value: Any, *, limit: int) -> bytes:
    """Standard or URL-safe base64, padding optional; refuse oversized input first."""
    if not isinstance(value, str | bytes) or not value or len(value) > limit * 4 // 3 + 4:
        raise invalid("malformed")
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise invalid("malformed") from None


def cbor_map(data: bytes) -> dict[str, Any]:
    try:
        decoded = cbor2.loads(data)
    except Exception:  # cbor2 raises several types for hostile input
        raise invalid("malformed") from None
    if not isinstance(decoded, dict):
        raise invalid("malformed")
    return decoded
