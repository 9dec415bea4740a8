"""Key generation and hashing, kept apart from models and views.

API keys look like ``gh_pub_<id>_<secret>_<checksum>`` (``gh_sec_`` for secret
keys): the prefix tells secret scanners and people what leaked, the public id
finds the row, the secret carries 190 bits of randomness and the CRC-32
checksum lets a malformed key be refused without touching the database.

Secrets are high-entropy random strings, so they are stored as HMAC-SHA-256
under a server-side pepper, not with a slow password hasher: a slow hash
protects guessable passwords, and would only make every request slower here.
"""

import hashlib
import hmac
import secrets
import string
import zlib
from typing import NamedTuple

from protection.conf import gatehouse_settings

ALPHABET = string.digits + string.ascii_letters
KEY_PREFIXES = {"publishable": "gh_pub", "secret": "gh_sec"}
PUBLIC_ID_LENGTH = 12
SECRET_LENGTH = 32  # 32 base62 characters: about 190 bits
CHECKSUM_LENGTH = 6


class ParsedKey(NamedTuple):
    kind: str
    public_id: str
    secret: str


def _random_base62(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(ALPHABET[remainder])
    return "".join(reversed(digits))


def _checksum(body: str) -> str:
    return _base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def generate_public_id() -> str:
    return _random_base62(PUBLIC_ID_LENGTH)


def generate_raw_key(*, kind: str, public_id: str) -> tuple[str, str]:
    """Return ``(raw_key, secret)`` for a new key of ``kind`` with ``public_id``."""
    secret = _random_base62(SECRET_LENGTH)
    body = f"{KEY_PREFIXES[kind]}_{public_id}_{secret}"
    return f"{body}_{_checksum(body)}", secret


def parse_raw_key(raw_key: str) -> ParsedKey | None:
    """Return the parts of a well-formed key, or None; never touches storage."""
    if not raw_key or len(raw_key) > 100 or not raw_key.isascii():
        return None
    parts = raw_key.split("_")
    if len(parts) != 5:
        return None
    prefix = f"{parts[0]}_{parts[1]}"
    kinds = {value: kind for kind, value in KEY_PREFIXES.items()}
    public_id, secret, checksum = parts[2], parts[3], parts[4]
    if (
        prefix not in kinds
        or len(public_id) != PUBLIC_ID_LENGTH
        or len(secret) != SECRET_LENGTH
        or not all(c in ALPHABET for c in public_id + secret)
    ):
        return None
    body = raw_key[: -(CHECKSUM_LENGTH + 1)]
    if not hmac.compare_digest(_checksum(body), checksum):
        return None
    return ParsedKey(kinds[prefix], public_id, secret)


def _pepper() -> bytes:
    pepper = gatehouse_settings.API_KEY_PEPPER or gatehouse_settings.SIGNING_KEY
    return hashlib.sha256(b"gatehouse-api-key-pepper:" + pepper.encode()).digest()


def hash_secret(secret: str) -> str:
    """Return the hex HMAC-SHA-256 of an API key secret under the pepper."""
    return hmac.new(_pepper(), secret.encode("ascii"), hashlib.sha256).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def keyed_digest(value: str, *, purpose: str) -> str:
    """Return a keyed hash of ``value`` (identifiers, counter keys) for storage.

    ``purpose`` separates domains so one digest cannot be replayed as another.
    """
    key = hashlib.sha256(
        f"gatehouse:{purpose}:".encode() + gatehouse_settings.SIGNING_KEY.encode()
    ).digest()
    return hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()
