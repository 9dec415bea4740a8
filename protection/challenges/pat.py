"""Private Access Tokens (Privacy Pass, RFC 9576/9577/9578), publicly verifiable
type 0x0002 (blind RSA 2048, RSASSA-PSS with SHA-384).

- ``pat_challenges_issue``: the ``WWW-Authenticate: PrivateToken`` value for a
  401: one TokenChallenge per configured issuer (RFC 9577 section 2.1), all
  with the same 32 fresh random bytes as redemption context and gatehouse's
  own server name (PUBLIC_BASE_URL's host[:port]) as origin info. The digest
  of each challenge is remembered in the shared cache for
  PAT_CHALLENGE_LIFETIME seconds (its ``max-age``).
- ``pat_authorization_token``: the token of ``Authorization: PrivateToken token="..."``.
- ``pat_token_verify``: offline checks, no state: length, token type, a token
  key id naming a configured issuer key, and the RSASSA-PSS SHA-384
  signature (MGF1 SHA-384, 48-byte salt) over the token input.
- ``pat_token_redeem``: the challenge the token answers is consumed once
  (an atomic delete of its cache entry: only a challenge we issued, to the
  token's issuer, not yet redeemed and not expired, is found) and recorded in
  the spent-evidence table, which tells a replay from an unknown challenge.
  One challenge buys one session, whatever nonces its tokens carry.

Nothing here makes a network call: issuer keys come from PAT_ISSUERS
(``protection.challenges.patissuers``).
"""

import hashlib
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from django.core.cache import cache

from protection.base import crypto
from protection.base.exceptions import ProtectionError
from protection.challenges.patissuers import (
    TOKEN_TYPE_BLIND_RSA,
    PatIssuer,
    b64url_decode,
    b64url_encode,
    pat_issuers,
)
from protection.conf import gatehouse_settings
from protection.core.cachehealth import shared_cache_call

NONCE_BYTES = 32
DIGEST_BYTES = 32
KEY_ID_BYTES = 32
AUTHENTICATOR_BYTES = 256  # Nk for 2048-bit keys
INPUT_BYTES = 2 + NONCE_BYTES + DIGEST_BYTES + KEY_ID_BYTES
TOKEN_BYTES = INPUT_BYTES + AUTHENTICATOR_BYTES
SALT_BYTES = 48  # RFC 9578 section 6.4: sLen is the SHA-384 output size
MAX_HEADER_CHARS = 1024  # a token is 472 base64url characters
_TOKEN_PARAM = re.compile(r'(?:^|,)\s*token\s*=\s*(?:"([^"]*)"|([^\s,"]*))', re.IGNORECASE)
_CACHE_PREFIX = "gh:pat:challenge:"


class PatRefused(Exception):
    """A token that does not verify; ``reason`` goes to the audit log only."""

    def __init__(self, reason: str, issuer: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.issuer = issuer


@dataclass(frozen=True)
class PatToken:
    """A token whose signature verified: who issued it and which challenge it answers."""

    issuer: PatIssuer
    nonce: bytes
    challenge_digest: bytes


def pat_origin_info() -> str:
    """gatehouse's server name for origin_info (host[:port], port omitted when 443),
    from PUBLIC_BASE_URL; "" when that is not set."""
    base = (gatehouse_settings.PUBLIC_BASE_URL or "").strip()
    try:
        parts = urlsplit(base)
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return host if port == 443 else f"{host}:{port}"


def pat_challenge_build(*, issuer_name: str, redemption_context: bytes, origin_info: str) -> bytes:
    """The TokenChallenge structure (RFC 9577 section 2.1) for token type 0x0002."""
    if len(redemption_context) not in (0, 32):
        raise ValueError("a redemption context is 0 or 32 bytes")
    issuer = issuer_name.encode("ascii")
    origin = origin_info.encode("ascii")
    return (
        struct.pack("!HH", TOKEN_TYPE_BLIND_RSA, len(issuer))
        + issuer
        + struct.pack("!B", len(redemption_context))
        + redemption_context
        + struct.pack("!H", len(origin))
        + origin
    )


def _cache_key(issuer_name: str, challenge_digest: bytes) -> str:
    # The issuer is part of the key: a token of issuer B cannot redeem a
    # challenge that named issuer A.
    value = f"{issuer_name}\x00{challenge_digest.hex()}"
    return _CACHE_PREFIX + crypto.keyed_digest(value, purpose="pat-challenge")[:40]


def pat_challenges_remember(challenges: dict[str, bytes]) -> bool:
    """Remember TokenChallenges (issuer name -> challenge bytes) as issued, each
    redeemable once within PAT_CHALLENGE_LIFETIME; False if the cache cannot."""
    entries = {
        _cache_key(name, hashlib.sha256(challenge).digest()): 1
        for name, challenge in challenges.items()
    }
    lifetime = int(gatehouse_settings.PAT_CHALLENGE_LIFETIME)
    return shared_cache_call(lambda: cache.set_many(entries, timeout=lifetime) == [], False)


def pat_challenges_issue(*, random_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """Issue one TokenChallenge per configured issuer; return the WWW-Authenticate value.

    Raises ``pat_unavailable`` (503) when no issuer or no PUBLIC_BASE_URL is
    configured, or the shared cache cannot remember the challenges.
    """
    first_keys: dict[str, PatIssuer] = {}
    for issuer in pat_issuers():
        first_keys.setdefault(issuer.name, issuer)  # the first key of each issuer is offered
    origin_info = pat_origin_info()
    if not first_keys or not origin_info:
        raise ProtectionError("pat_unavailable")
    context = random_bytes(32)
    lifetime = int(gatehouse_settings.PAT_CHALLENGE_LIFETIME)
    challenges = {
        name: pat_challenge_build(
            issuer_name=name, redemption_context=context, origin_info=origin_info
        )
        for name in first_keys
    }
    if not pat_challenges_remember(challenges):
        raise ProtectionError("pat_unavailable")
    return ", ".join(
        f'PrivateToken challenge="{b64url_encode(challenge)}", '
        f'token-key="{first_keys[name].token_key}", max-age="{lifetime}"'
        for name, challenge in challenges.items()
    )


def pat_authorization_token(header: str | None) -> str | None:
    """The token of an ``Authorization: PrivateToken token="..."`` header.

    None when the header is absent or of another scheme; "" when it is
    PrivateToken but carries no readable token (refused as invalid).
    """
    if not header:
        return None
    scheme, _, params = header.strip().partition(" ")
    if scheme.lower() != "privatetoken":
        return None
    if len(header) > MAX_HEADER_CHARS:
        return ""
    match = _TOKEN_PARAM.search(params.strip())
    if match is None:
        return ""
    return match.group(1) if match.group(1) is not None else match.group(2)


def pat_token_verify(token: str) -> PatToken:
    """Check a base64url token offline; return it, or raise PatRefused(reason)."""
    try:
        raw = b64url_decode(token)
    except ValueError:
        raise PatRefused("pat_malformed") from None
    if len(raw) != TOKEN_BYTES:
        raise PatRefused("pat_malformed")
    (token_type,) = struct.unpack("!H", raw[:2])
    if token_type != TOKEN_TYPE_BLIND_RSA:
        raise PatRefused("pat_token_type")
    nonce = raw[2 : 2 + NONCE_BYTES]
    digest = raw[2 + NONCE_BYTES : 2 + NONCE_BYTES + DIGEST_BYTES]
    key_id = raw[2 + NONCE_BYTES + DIGEST_BYTES : INPUT_BYTES]
    issuer = next(
        (issuer for issuer in pat_issuers() if secrets.compare_digest(issuer.key_id, key_id)),
        None,
    )
    if issuer is None:
        raise PatRefused("pat_unknown_key")
    try:
        issuer.public_key.verify(
            raw[INPUT_BYTES:],
            raw[:INPUT_BYTES],
            padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_BYTES),
            hashes.SHA384(),
        )
    except InvalidSignature:
        raise PatRefused("pat_signature", issuer.name) from None
    return PatToken(issuer=issuer, nonce=nonce, challenge_digest=digest)


def pat_token_redeem(token: PatToken) -> bool:
    """Consume the challenge ``token`` answers; True if it was ours, live and unused.

    False: never issued (to this issuer), expired or already consumed; the
    caller tells a replay from the rest with the spent-evidence table.
    Raises ``pat_unavailable`` when the shared cache cannot answer.
    """
    key = _cache_key(token.issuer.name, token.challenge_digest)
    deleted = shared_cache_call(lambda: bool(cache.delete(key)), None)
    if deleted is None:
        raise ProtectionError("pat_unavailable")
    return deleted
