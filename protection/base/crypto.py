"""Key generation and hashing, kept apart from models and views.

API keys look like ``gh_pub_<id>_<secret>_<checksum>`` (``gh_sec_`` for secret
keys): the prefix tells secret scanners and people what leaked, the public id
finds the row, the secret carries 190 bits of randomness and the CRC-32
checksum lets a malformed key be refused without touching the database.

Secrets are high-entropy random strings, so they are stored as HMAC-SHA-256
under a server-side pepper, not with a slow password hasher: a slow hash
protects guessable passwords, and would only make every request slower here.
"""

import functools
import hashlib
import hmac
import re
import secrets
import string
import zlib
from typing import Any, NamedTuple

from django.core.exceptions import ImproperlyConfigured

from protection.conf import gatehouse_settings

ALPHABET = string.digits + string.ascii_letters
_ALPHABET_SET = frozenset(ALPHABET)
KEY_PREFIXES = {"publishable": "gh_pub", "secret": "gh_sec"}
_KINDS_BY_PREFIX = {prefix: kind for kind, prefix in KEY_PREFIXES.items()}
PUBLIC_ID_LENGTH = 12  # about 71 bits: ids never collide in practice, unique in the DB anyway
SECRET_LENGTH = 32  # 32 base62 characters: about 190 bits
CHECKSUM_LENGTH = 6  # 62**6 > 2**32, so every CRC-32 value fits
# Every well-formed key has exactly this length: "gh_xxx_" + id + "_" + secret + "_" + crc.
RAW_KEY_LENGTH = 7 + PUBLIC_ID_LENGTH + 1 + SECRET_LENGTH + 1 + CHECKSUM_LENGTH
# Compared against when the public id is unknown, so that case costs the same hash.
UNKNOWN_KEY_HASH = "0" * 64


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
    if kind not in KEY_PREFIXES:
        raise ValueError(f"Unknown API key kind {kind!r}")
    if len(public_id) != PUBLIC_ID_LENGTH or not _ALPHABET_SET.issuperset(public_id):
        raise ValueError("A public id is 12 base62 characters")
    secret = _random_base62(SECRET_LENGTH)
    body = f"{KEY_PREFIXES[kind]}_{public_id}_{secret}"
    return f"{body}_{_checksum(body)}", secret


def parse_raw_key(raw_key: Any) -> ParsedKey | None:
    """Return the parts of a well-formed key, or None; never touches storage.

    Anything but the exact shape (length, prefix, separators, base62 parts,
    checksum) is refused, including surrounding whitespace and non-ASCII text.
    """
    if not isinstance(raw_key, str) or len(raw_key) != RAW_KEY_LENGTH or not raw_key.isascii():
        return None
    parts = raw_key.split("_")
    if len(parts) != 5:
        return None
    kind = _KINDS_BY_PREFIX.get(f"{parts[0]}_{parts[1]}")
    public_id, secret, checksum = parts[2], parts[3], parts[4]
    if (
        kind is None
        or len(public_id) != PUBLIC_ID_LENGTH
        or len(secret) != SECRET_LENGTH
        or len(checksum) != CHECKSUM_LENGTH
        or not _ALPHABET_SET.issuperset(public_id + secret + checksum)
    ):
        return None
    body = raw_key[: -(CHECKSUM_LENGTH + 1)]
    if not hmac.compare_digest(_checksum(body), checksum):
        return None
    return ParsedKey(kind, public_id, secret)


# A key's body without its prefix: "<id>_<secret>_<checksum>", as a copy that
# dropped "gh_pub_" would carry it.
_UNPREFIXED_KEY = re.compile(
    rf"(?<![0-9A-Za-z])[0-9A-Za-z]{{{PUBLIC_ID_LENGTH}}}_[0-9A-Za-z]{{{SECRET_LENGTH}}}"
    rf"_[0-9A-Za-z]{{{CHECKSUM_LENGTH}}}(?![0-9A-Za-z])"
)


def contains_raw_key(text: str) -> bool:
    """True when ``text`` holds a well-formed key, with or without its ``gh_xxx_`` prefix.

    A candidate without its prefix counts only when its checksum is right
    under one of the prefixes: a random string of that shape is not a key.
    """
    if any(f"{prefix}_" in text for prefix in KEY_PREFIXES.values()):
        return True
    for match in _UNPREFIXED_KEY.finditer(text):
        body = match.group(0)
        if any(parse_raw_key(f"{prefix}_{body}") for prefix in KEY_PREFIXES.values()):
            return True
    return False


@functools.lru_cache(maxsize=8)
def _derive_pepper(pepper: str) -> bytes:
    # Memoised on the setting's value: the hot path pays one dict lookup, and a
    # changed setting (override_settings in tests) still takes effect at once.
    return hashlib.sha256(b"gatehouse-api-key-pepper:" + pepper.encode()).digest()


def _pepper() -> bytes:
    pepper = gatehouse_settings.API_KEY_PEPPER or gatehouse_settings.SIGNING_KEY
    if not pepper:
        # An empty pepper would make the stored hashes plain SHA-256 look-alikes.
        raise ImproperlyConfigured("Set GATEHOUSE['API_KEY_PEPPER'] or GATEHOUSE['SIGNING_KEY']")
    return _derive_pepper(pepper)


def hash_secret(secret: str) -> str:
    """Return the hex HMAC-SHA-256 of an API key secret under the pepper."""
    return hmac.digest(_pepper(), secret.encode("ascii"), "sha256").hex()


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with a stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def keyed_digest(value: str, *, purpose: str) -> str:
    """Return a keyed hash of ``value`` (identifiers, counter keys) for storage.

    ``purpose`` separates domains so one digest cannot be replayed as another.
    """
    key = _purpose_key(purpose, gatehouse_settings.SIGNING_KEY)
    return hmac.digest(key, value.encode("utf-8"), "sha256").hex()


@functools.lru_cache(maxsize=32)
def _purpose_key(purpose: str, signing_key: str) -> bytes:
    # Memoised on the values (a request computes about ten digests); a changed
    # SIGNING_KEY still takes effect at once.
    return hashlib.sha256(f"gatehouse:{purpose}:".encode() + signing_key.encode()).digest()
