"""DPoP (RFC 9449): sender-constrained session tokens.

A client that holds a private key sends a ``DPoP`` proof (a JWS signed with
that key, its public half in the header) with each request. At session start
the key's RFC 7638 thumbprint (``jkt``) goes into the tokens as ``cnf.jkt``;
from then on every request must show ``Authorization: DPoP <access>`` plus a
fresh proof signed by the same key, so a stolen token is useless without it.

- ``dpop_proof_verify``: every check of RFC 9449 section 4.3 on one proof;
  returns the key's thumbprint.
- ``dpop_session_start``: the proof (optional or required) on
  ``POST /api/v1/sessions``; returns the jkt to bind the tokens to.
- ``dpop_request_verify``: the token scheme, the proof and the binding on a
  later request.
- ``dpop_refresh_verify``: a proof by the bound key on refresh; the binding
  carries over to the new tokens.
- ``dpop_nonce_issue``: a server nonce for the ``DPoP-Nonce`` header.
- ``dpop_public_origin``: the origin every proof's ``htu`` must start with, or
  None when proofs cannot be checked (so a front end knows whether to send them).

Every refusal is a ``DpopError`` (a ``ProtectionError`` whose headers carry
``WWW-Authenticate: DPoP error=...``); the two services above also record it
as a deny event naming the verifier and the reason.
"""

import base64
import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlsplit

import jwt
from django.core.cache import cache

from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.core.nonces import nonce_issue, nonce_verify

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


def dpop_proof_verify(
    *,
    proof: str,
    method: str,
    url: str,
    access_token: str | None = None,
    expected_jkt: str | None = None,
    now: float | None = None,
) -> str:
    """Verify one DPoP proof for a request; return the RFC 7638 thumbprint of its key.

    ``url`` is the request path (or URL: only its path is used; the scheme and
    host are PUBLIC_BASE_URL's). ``access_token``: the token sent with the
    proof, whose hash ``ath`` must carry. ``expected_jkt``: the token's
    ``cnf.jkt``. The proof's ``jti`` is spent last, in the shared cache, so a
    proof is accepted once across every process. Raises ``DpopError``.
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
    _jti_spend(jti=jti, jkt=thumbprint, window=window)
    return thumbprint


def _jti_spend(*, jti: str, jkt: str, window: float) -> None:
    # A proof is acceptable from iat - window to iat + window: remembering its
    # jti for 2 x window covers every instant at which it could be replayed.
    # Keyed by the key too, so one client cannot spend another client's jti.
    key = "gh:dpop:jti:" + keyed_digest(f"{jkt}:{jti}", purpose="dpop-jti")
    try:
        first_use = cache.add(key, 1, timeout=int(2 * window) + 1)
    except Exception as exc:
        # Without the shared store a replay on another worker would pass: refuse.
        raise ProtectionError("service_unavailable") from exc
    if not first_use:
        raise DpopError("dpop_replayed", "jti_replayed")


def _deny(
    exc: DpopError, *, client_ip: str | None, api_key: Any, session_id: Any, path: str
) -> DpopError:
    event_record(
        # The code itself, spelled out so the docs can list every kind.
        kind=(
            "dpop_required"
            if exc.code == "dpop_required"
            else "dpop_replayed"
            if exc.code == "dpop_replayed"
            else "dpop_binding_mismatch"
            if exc.code == "dpop_binding_mismatch"
            else "dpop_nonce_required"
            if exc.code == "dpop_nonce_required"
            else "dpop_proof_invalid"
        ),
        decision="deny",
        reason=exc.reason,
        client_ip=client_ip,
        api_key=api_key,
        session_id=session_id,
        path=path,
        details={"verifier": "dpop"},
    )
    return exc


def dpop_session_start(
    *,
    proof: str | None,
    method: str,
    url: str,
    required: bool,
    client_ip: str | None = None,
    api_key: Any = None,
    now: float | None = None,
) -> str | None:
    """The DPoP step of ``POST /api/v1/sessions``: the jkt to bind the new tokens
    to, or None when the client sent no proof and ``required`` (the key requires
    ``dpop``) is false. Refusals are recorded as deny events."""
    path = urlsplit(url).path
    try:
        if not proof:
            if required:
                raise DpopError(
                    "dpop_required", "proof_missing", "This API key requires a DPoP proof."
                )
            return None
        return dpop_proof_verify(proof=proof, method=method, url=url, now=now)
    except DpopError as exc:
        raise _deny(exc, client_ip=client_ip, api_key=api_key, session_id=None, path=path) from None


def dpop_request_verify(
    *,
    scheme: str,
    access_token: str,
    token_jkt: str | None,
    proof: str | None,
    method: str,
    url: str,
    client_ip: str | None = None,
    api_key: Any = None,
    session_id: Any = None,
    now: float | None = None,
) -> None:
    """Check the DPoP side of a request carrying a session's access token.

    ``scheme`` is the Authorization scheme as sent ("Bearer" / "DPoP"),
    ``token_jkt`` the verified token's ``cnf.jkt`` (``tokens.token_jkt``).
    A bound token needs the DPoP scheme and a proof by its key; an unbound
    token sent as DPoP is refused too (RFC 9449 section 7.1), so a client
    never believes it is protected when it is not.
    """
    path = urlsplit(url).path
    try:
        if token_jkt is None:
            if scheme.lower() == "dpop":
                raise DpopError(
                    "dpop_proof_invalid", "token_not_bound", "This token is not DPoP-bound."
                )
            return
        if scheme.lower() != "dpop":
            raise DpopError("dpop_required", "bound_token_as_bearer")
        if not proof:
            raise DpopError("dpop_required", "proof_missing")
        dpop_proof_verify(
            proof=proof,
            method=method,
            url=url,
            access_token=access_token,
            expected_jkt=token_jkt,
            now=now,
        )
    except DpopError as exc:
        raise _deny(
            exc, client_ip=client_ip, api_key=api_key, session_id=session_id, path=path
        ) from None


def dpop_refresh_verify(
    *,
    proof: str | None,
    token_jkt: str | None,
    method: str,
    url: str,
    client_ip: str | None = None,
    api_key: Any = None,
    session_id: Any = None,
    now: float | None = None,
) -> str | None:
    """The DPoP step of ``POST /api/v1/sessions/refresh``: return the jkt the new
    tokens keep (the refresh token's ``cnf.jkt``), or None for an unbound session.

    A bound refresh token needs a proof by the same key (no ``ath``: RFC 9449
    section 5), so a stolen refresh token cannot mint new tokens either.
    """
    if token_jkt is None:
        return None
    path = urlsplit(url).path
    try:
        if not proof:
            raise DpopError("dpop_required", "proof_missing")
        return dpop_proof_verify(
            proof=proof, method=method, url=url, expected_jkt=token_jkt, now=now
        )
    except DpopError as exc:
        raise _deny(
            exc, client_ip=client_ip, api_key=api_key, session_id=session_id, path=path
        ) from None
