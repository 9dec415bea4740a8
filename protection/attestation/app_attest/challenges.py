"""Server challenges for App Attest client data, and the client data check.

The client data the app hashes into an attestation or assertion is a JSON
object holding a fresh server challenge (``app_attest_challenge_issue``,
valid ``APP_ATTEST_CHALLENGE_LIFETIME`` seconds), so nothing signed
elsewhere or long ago is accepted; an assertion's client data also names
the request's method and path, so it is accepted on that request only.
"""

import json

from protection.attestation.app_attest.wire import invalid
from protection.conf import gatehouse_settings
from protection.core.nonces import nonce_issue, nonce_verify

CHALLENGE_PURPOSE = "app-attest"


def app_attest_challenge_issue(*, now: float | None = None) -> str:
    """A server challenge for App Attest client data (valid APP_ATTEST_CHALLENGE_LIFETIME s)."""
    return nonce_issue(purpose=CHALLENGE_PURPOSE, now=now)


def client_data_check(
    client_data: bytes, *, method: str | None, path: str | None, now: float | None
) -> None:
    """Raise ``Refused`` unless the client data holds a fresh server ``challenge``
    (and, when given, the request's ``method`` and ``path``)."""
    try:
        fields = json.loads(client_data)
    except ValueError:
        raise invalid("client_data_malformed") from None
    if not isinstance(fields, dict):
        raise invalid("client_data_malformed")
    if not nonce_verify(
        nonce=fields.get("challenge"),
        purpose=CHALLENGE_PURPOSE,
        max_age=gatehouse_settings.APP_ATTEST_CHALLENGE_LIFETIME,
        now=now,
    ):
        raise invalid("challenge_invalid")
    if method is not None and fields.get("method") != method.upper():
        raise invalid("method_mismatch")
    if path is not None and fields.get("path") != path:
        raise invalid("path_mismatch")
