"""One DPoP proof (RFC 9449 section 4.3): every check, and its ``jti``.

``dpop_proof_check`` runs every check of a proof but the replay check and
returns what it proved (the key's RFC 7638 thumbprint, ``jkt``) with the
proof's ``jti``; ``dpop_jti_claim`` is the claim the gate counts in the
request's one round trip (a proof is accepted once across every process);
``dpop_proof_verify`` checks and spends in one call (refresh, direct
callers). Every refusal is a ``DpopError`` (a ``ProtectionError`` whose
headers carry ``WWW-Authenticate: DPoP error=...``).
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.core.cache import cache

from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.keyspace import owned_key
from protection.core.nonces import nonce_issue, nonce_verify
from protection.core.ratelimit import Claim

PROOF_TYPE = "dpop+jwt"
# Only signatures made with a private key prove possession. "none" and HS*
# never appear here, whatever DPOP_ALGORITHMS says (alg confusion).
ASYMMETRIC_ALGORITHMS = {
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "EdDSA": ("OKP", "Ed25519"),
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
}
# Members of a private JWK (RFC 7518 section 6): a proof carrying them leaked its key.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
# RFC 7638 section 3.2: the required members per key type, in this order.
THUMBPRINT_MEMBERS = {
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
    "RSA": ("e", "kty", "n"),
}
MIN_RSA_BITS = 2048
MAX_PROOF_CHARS = 8192  # an RSA-4096 jwk proof is ~1.5 KB; anything far larger is not a proof
MAX_JTI_CHARS = 256
NONCE_PURPOSE = "dpop"
DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 9449 section 7.1: the token is the problem (wrong scheme, wrong key), or
# the server wants a nonce; anything else is the proof's fault.
CHALLENGE_ERRORS = {
    "dpop_required": "invalid_token",
    "dpop_binding_mismatch": "invalid_token",
    "dpop_nonce_required": "use_dpop_nonce",
}


class DpopError(ProtectionError):
    """A refused proof or binding. ``reason`` names the failed check (for events)."""

    def __init__(self, code: str, reason: str, detail: str | None = None) -> None:
        error = CHALLENGE_ERRORS.get(code, "invalid_dpop_proof")
        headers = {
            "WWW-Authenticate": f'DPoP error="{error}", algs="{" ".join(dpop_algorithms())}"'
        }
        if code == "dpop_nonce_required":
            headers["DPoP-Nonce"] = dpop_nonce_issue()
        super().__init__(code, detail, headers=headers)
        self.reason = reason


def dpop_algorithms() -> list[str]:
    """The proof algorithms accepted now: DPOP_ALGORITHMS less anything symmetric."""
    return [alg for alg in gatehouse_settings.DPOP_ALGORITHMS if alg in ASYMMETRIC_ALGORITHMS]


def dpop_www_authenticate() -> str:
    """The challenge for a request that sent no DPoP credentials at all (RFC 9449 7.1)."""
    return f'DPoP algs="{" ".join(dpop_algorithms())}"'


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def dpop_thumbprint(jwk: dict[str, Any]) -> str:
    """Return the RFC 7638 thumbprint of a public JWK: base64url SHA-256, no padding.

    Raises ValueError for a key type or member this module does not accept.
    """
    members = THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        raise ValueError("not a public EC, OKP or RSA JWK")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def dpop_access_token_hash(access_token: str) -> str:
    """The ``ath`` claim for ``access_token``: base64url SHA-256 of its ASCII bytes."""
    return _b64url(hashlib.sha256(access_token.encode("ascii")).digest())


def dpop_nonce_issue(*, now: float | None = None) -> str:
    """Return a server nonce for the ``DPoP-Nonce`` response header."""
    return nonce_issue(purpose=NONCE_PURPOSE, now=now)


def _normalise_url(url: str) -> str | None:
    """scheme://host[:port]/path with the scheme and host lowercased, the default
    port dropped, no query or fragment; None if ``url`` is not absolute."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path or '/'}"


def dpop_public_origin() -> str | None:
    """Return PUBLIC_BASE_URL as a browser writes ``location.origin`` (lowercase
    scheme://host[:port], default port dropped), or None when it is unset or
    malformed: then every DPoP proof is refused with 503."""
    base = gatehouse_settings.PUBLIC_BASE_URL.rstrip("/")
    normalised = _normalise_url(base + "/") if base else None
    if normalised is None or urlsplit(normalised).path != "/":
        return None  # a base with a path is no origin (protection.E013 flags it)
    return normalised[:-1]


def _expected_htu(url: str) -> str:
    base = gatehouse_settings.PUBLIC_BASE_URL.rstrip("/")
    if not base:
        # Without it the only other source is the Host header, which the client
        # chooses: refuse rather than check the proof against that.
        raise ProtectionError("service_unavailable", "DPoP is not configured on this server.")
    # Only the path of what the edge passes counts, even if it is an absolute
    # URL built from Host: the scheme and host are always PUBLIC_BASE_URL's.
    path = urlsplit(url).path or "/"
    expected = _normalise_url(base + path)
    if expected is None:
        raise ProtectionError("service_unavailable", "DPoP is not configured on this server.")
    return expected


def _public_key(header: dict[str, Any], alg: str) -> tuple[Any, str]:
    """The verified-shape public key of the proof's ``jwk`` header and its thumbprint."""
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise DpopError("dpop_proof_invalid", "jwk_missing")
    if PRIVATE_JWK_MEMBERS & jwk.keys():
        raise DpopError(
            "dpop_proof_invalid", "jwk_private", "The DPoP proof's jwk holds a private key."
        )
    kty, crv = ASYMMETRIC_ALGORITHMS[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        raise DpopError("dpop_proof_invalid", "jwk_alg_mismatch")
    try:
        thumbprint = dpop_thumbprint(jwk)
        key = jwt.PyJWK(jwk, algorithm=alg).key
    except (ValueError, TypeError, jwt.PyJWTError):
        raise DpopError("dpop_proof_invalid", "jwk_invalid") from None
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise DpopError("dpop_proof_invalid", "jwk_too_weak")
    return key, thumbprint


@dataclass(frozen=True)
class VerifiedProof:
    """A proof that passed every check but the replay check."""

    jkt: str  # the RFC 7638 thumbprint of the proof's key
    jti: str


def dpop_proof_check(
    *,
    proof: str,
    method: str,
    url: str,
    access_token: str | None = None,
    expected_jkt: str | None = None,
    now: float | None = None,
) -> VerifiedProof:
    """Check one DPoP proof for a request, all but its replay (``dpop_jti_claim``).

    ``url`` is the request path (or URL: only its path is used; the scheme and
    host are PUBLIC_BASE_URL's). ``access_token``: the token sent with the
    proof, whose hash ``ath`` must carry. ``expected_jkt``: the token's
    ``cnf.jkt``. Raises ``DpopError``.
    """
    now = time.time() if now is None else now
    if not isinstance(proof, str) or not proof or len(proof) > MAX_PROOF_CHARS:
        raise DpopError("dpop_proof_invalid", "malformed")
    try:
        header = jwt.get_unverified_header(proof)
    except jwt.PyJWTError:
        raise DpopError("dpop_proof_invalid", "malformed") from None
    if header.get("typ") != PROOF_TYPE:
        raise DpopError("dpop_proof_invalid", "typ", 'The DPoP proof\'s typ must be "dpop+jwt".')
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in dpop_algorithms():
        raise DpopError(
            "dpop_proof_invalid", "alg_not_allowed", "This DPoP proof algorithm is not accepted."
        )
    key, thumbprint = _public_key(header, alg)
    try:
        claims = jwt.decode(
            proof,
            key,
            algorithms=[alg],
            # iat is checked below against our own clock and window; a proof
            # has no exp, aud or iss to check.
            options={
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError:
        raise DpopError("dpop_proof_invalid", "signature") from None

    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_CHARS:
        raise DpopError("dpop_proof_invalid", "jti")
    if claims.get("htm") != method.upper():
        raise DpopError(
            "dpop_proof_invalid", "htm", "The DPoP proof's htm is not this request's method."
        )
    htu = claims.get("htu")
    if not isinstance(htu, str) or _normalise_url(htu) != _expected_htu(url):
        raise DpopError(
            "dpop_proof_invalid", "htu", "The DPoP proof's htu is not this request's URL."
        )
    iat = claims.get("iat")
    window = gatehouse_settings.DPOP_IAT_WINDOW
    # Written as "not within" so NaN (which JSON parsers accept) is refused too.
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not abs(now - iat) <= window:
        raise DpopError(
            "dpop_proof_invalid", "iat", "The DPoP proof is too old or from the future."
        )
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            ath, dpop_access_token_hash(access_token)
        ):
            raise DpopError(
                "dpop_proof_invalid", "ath", "The DPoP proof's ath is not this token's hash."
            )
    if gatehouse_settings.DPOP_NONCE_REQUIRED and not nonce_verify(
        nonce=claims.get("nonce"),
        purpose=NONCE_PURPOSE,
        max_age=gatehouse_settings.DPOP_NONCE_LIFETIME,
        now=now,
    ):
        raise DpopError("dpop_nonce_required", "nonce")
    if expected_jkt is not None and not hmac.compare_digest(thumbprint, expected_jkt):
        raise DpopError("dpop_binding_mismatch", "jkt")
    return VerifiedProof(jkt=thumbprint, jti=jti)


def dpop_jti_claim(proof: VerifiedProof) -> Claim:
    """The replay claim of ``proof``: first use of its jti, kept while it could be replayed.

    A proof is acceptable from iat - window to iat + window: remembering its
    jti for 2 x window covers every instant at which it could be replayed.
    Keyed by the key too, so one client cannot spend another client's jti.
    """
    name = "gh:dpop:jti:" + keyed_digest(f"{proof.jkt}:{proof.jti}", purpose="dpop-jti")
    return Claim(owned_key(name, owner=proof.jkt), int(2 * gatehouse_settings.DPOP_IAT_WINDOW) + 1)


def dpop_proof_verify(
    *,
    proof: str,
    method: str,
    url: str,
    access_token: str | None = None,
    expected_jkt: str | None = None,
    now: float | None = None,
) -> str:
    """Check one DPoP proof and spend its jti at once; return its key's thumbprint."""
    checked = dpop_proof_check(
        proof=proof,
        method=method,
        url=url,
        access_token=access_token,
        expected_jkt=expected_jkt,
        now=now,
    )
    claim = dpop_jti_claim(checked)
    try:
        first_use = cache.add(claim.key, 1, timeout=claim.ttl)
    except Exception as exc:
        # Without the shared store a replay on another worker would pass: refuse.
        raise ProtectionError("service_unavailable") from exc
    if not first_use:
        raise DpopError("dpop_replayed", "jti_replayed")
    return checked.jkt
