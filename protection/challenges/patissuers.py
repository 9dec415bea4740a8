"""The Private Access Token issuers gatehouse trusts, and their directories.

``PAT_ISSUERS`` lists ``issuer-name=token-key`` entries: the issuer's server
name (as TokenChallenges carry it, RFC 9577 section 2.1.1) and its token key
base64url-encoded exactly as its directory publishes it (RFC 9578 section
6.5: a DER SubjectPublicKeyInfo with the RSASSA-PSS OID, 2048-bit). The
token key id a token names is the SHA-256 of those DER bytes. An issuer may
be listed twice during a key rotation; its first key is the one offered in
challenges, every listed key verifies.

Parsed once per process per settings value (``pat_issuers``); nothing here
touches the network except ``pat_directory_fetch``, which only the
``pat_issuer_fetch`` management command calls.
"""

import base64
import binascii
import hashlib
import json
import re
import threading
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from protection.base.processstate import process_state_register
from protection.conf import gatehouse_settings

TOKEN_TYPE_BLIND_RSA = 0x0002
KEY_BITS = 2048
DIRECTORY_PATH = "/.well-known/private-token-issuer-directory"
DIRECTORY_MAX_BYTES = 64 * 1024
# DER of the OBJECT IDENTIFIER id-RSASSA-PSS (1.2.840.113549.1.1.10), RFC 4055.
RSASSA_PSS_OID = bytes.fromhex("06092a864886f70d01010a")
# A server name: host (or [IPv6]) and an optional port, no userinfo (RFC 9577 2.1.1.1).
SERVER_NAME = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\])(?::\d{1,5})?$"
)
BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


@dataclass(frozen=True)
class PatIssuer:
    """One trusted issuer key: its name, the key as published, its id and the loaded key."""

    name: str
    token_key: str  # base64url, as configured (and sent in token-key="...")
    key_id: bytes  # SHA-256 of the DER SubjectPublicKeyInfo
    public_key: RSAPublicKey


def b64url_decode(text: str) -> bytes:
    """base64url with or without padding; ValueError for anything else."""
    if not isinstance(text, str) or not BASE64URL.fullmatch(text):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text.rstrip("=") + "=" * (-len(text.rstrip("=")) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def b64url_encode(data: bytes) -> str:
    """base64url with padding, as RFC 9577 asks for challenges and keys."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def _der_header(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``offset``."""
    tag, length = data[offset], data[offset + 1]
    start = offset + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 2:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[start : start + count], "big")
        start += count
    if start + length > len(data):
        raise ValueError("truncated DER")
    return tag, start, start + length


def spki_uses_rsassa_pss(spki: bytes) -> bool:
    """Whether a DER SubjectPublicKeyInfo names id-RSASSA-PSS as its algorithm."""
    try:
        tag, start, end = _der_header(spki, 0)
        if tag != 0x30 or end != len(spki):
            return False
        tag, inner_start, _ = _der_header(spki, start)
        if tag != 0x30:
            return False
        return spki[inner_start : inner_start + len(RSASSA_PSS_OID)] == RSASSA_PSS_OID
    except (IndexError, ValueError):
        return False


def pat_issuer_load(name: str, token_key: str) -> PatIssuer:
    """One issuer key from its name and published token key; ValueError saying what is wrong."""
    name = name.strip().lower()
    token_key = token_key.strip()
    if not SERVER_NAME.fullmatch(name) or len(name) > 255:
        raise ValueError(f"{name!r} is not an issuer server name (host[:port])")
    try:
        spki = b64url_decode(token_key)
    except ValueError:
        raise ValueError(f"the token key of {name} is not base64url") from None
    if not spki_uses_rsassa_pss(spki):
        raise ValueError(
            f"the token key of {name} is not a SubjectPublicKeyInfo with the RSASSA-PSS OID"
        )
    try:
        public_key = load_der_public_key(spki)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the token key of {name} does not load: {exc}") from None
    if not isinstance(public_key, RSAPublicKey) or public_key.key_size != KEY_BITS:
        raise ValueError(f"the token key of {name} is not a {KEY_BITS}-bit RSA key")
    return PatIssuer(
        name=name, token_key=token_key, key_id=hashlib.sha256(spki).digest(), public_key=public_key
    )


def pat_issuers_parse(entries: Iterable[str]) -> list[PatIssuer]:
    """``issuer-name=token-key`` entries as issuers; ValueError naming the bad entry."""
    issuers = []
    for entry in entries:
        if not isinstance(entry, str) or "=" not in entry:
            raise ValueError(f"{entry!r} is not issuer-name=token-key")
        name, _, token_key = entry.partition("=")
        issuers.append(pat_issuer_load(name, token_key))
    return issuers


class _Memo:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.source: tuple[str, ...] | None = None
        self.issuers: list[PatIssuer] = []

    def reset(self) -> None:
        with self.lock:
            self.source, self.issuers = None, []


_memo = _Memo()
process_state_register("pat issuers", _memo.reset)


def pat_issuers() -> list[PatIssuer]:
    """The configured issuer keys (parsed once per settings value); [] if malformed.

    A malformed ``PAT_ISSUERS`` is system check protection.E140 at start-up;
    at run time it accepts no token rather than raising on every request.
    """
    source = tuple(str(entry) for entry in gatehouse_settings.PAT_ISSUERS or ())
    with _memo.lock:
        if _memo.source != source:
            try:
                _memo.issuers = pat_issuers_parse(source)
            except ValueError:
                _memo.issuers = []
            _memo.source = source
        return list(_memo.issuers)


def pat_directory_parse(document: bytes | str, *, issuer_name: str) -> list[str]:
    """``issuer-name=token-key`` lines for the type 0x0002 keys of an issuer directory
    (RFC 9578 section 4), most preferred first; ValueError if there are none."""
    try:
        directory = json.loads(document)
    except ValueError as exc:
        raise ValueError(f"the directory is not JSON: {exc}") from None
    keys = directory.get("token-keys") if isinstance(directory, dict) else None
    if not isinstance(keys, list):
        raise ValueError("the directory has no token-keys list")
    lines = []
    for item in keys:
        if not isinstance(item, dict) or item.get("token-type") != TOKEN_TYPE_BLIND_RSA:
            continue
        token_key = item.get("token-key")
        if isinstance(token_key, str):
            pat_issuer_load(issuer_name, token_key)  # refuse what the verifier would refuse
            lines.append(f"{issuer_name}={token_key}")
    if not lines:
        raise ValueError("the directory lists no token key of type 2 (blind RSA)")
    return lines


def pat_directory_url(issuer: str) -> str:
    """The directory URL of ``issuer``: a URL as given, or a server name's well-known one."""
    if "://" in issuer:
        return issuer
    return urljoin(f"https://{issuer}", DIRECTORY_PATH)


def pat_directory_fetch(url: str, *, timeout: float = 10.0) -> tuple[str, bytes]:
    """GET an issuer directory; return (issuer server name, body). Management commands only."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    request = urllib.request.Request(
        url, headers={"Accept": "application/private-token-issuer-directory, application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        body: Any = response.read(DIRECTORY_MAX_BYTES + 1)
    if len(body) > DIRECTORY_MAX_BYTES:
        raise ValueError("the directory is larger than 64 KiB")
    port = parts.port
    name = parts.hostname.lower()
    if ":" in name:
        name = f"[{name}]"
    if port is not None and port != 443:
        name = f"{name}:{port}"
    return name, body
