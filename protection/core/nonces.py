"""Stateless server nonces: a timestamp and random bytes under a keyed MAC.

Used where a client must show it talked to this server recently: the DPoP
``nonce`` claim (RFC 9449 section 8) and the challenge inside App Attest
client data. Nothing is stored: any process verifies a nonce any other
process issued, and a nonce is refused once it is older than ``max_age``.
One-time use is not the nonce's job: the DPoP ``jti`` store and the App
Attest sign counter already refuse a replay.
"""

import hmac
import secrets
import time

from protection.base.crypto import keyed_digest

MAC_CHARS = 32  # 128 bits of the hex HMAC-SHA-256: enough for a short-lived value
MAX_NONCE_CHARS = 128


def _mac(body: str, purpose: str) -> str:
    return keyed_digest(body, purpose=f"nonce:{purpose}")[:MAC_CHARS]


def nonce_issue(*, purpose: str, now: float | None = None) -> str:
    """Return a new nonce for ``purpose`` (URL- and header-safe ASCII)."""
    issued = int(time.time() if now is None else now)
    body = f"{issued}.{secrets.token_urlsafe(12)}"
    return f"{body}.{_mac(body, purpose)}"


def nonce_verify(*, nonce: object, purpose: str, max_age: float, now: float | None = None) -> bool:
    """True when ``nonce`` was issued for ``purpose`` by this deployment within ``max_age`` s.

    A nonce issued (by the clock) in the future is refused too, beyond a
    second of skew between processes.
    """
    if not isinstance(nonce, str) or len(nonce) > MAX_NONCE_CHARS or not nonce.isascii():
        return False
    body, _, mac = nonce.rpartition(".")
    issued_text, _, _ = body.partition(".")
    if not issued_text.isdigit() or not hmac.compare_digest(_mac(body, purpose), mac):
        return False
    age = (time.time() if now is None else now) - int(issued_text)
    return -1 <= age <= max_age
