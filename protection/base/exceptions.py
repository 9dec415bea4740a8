"""Domain errors: each carries a stable machine code, an HTTP status and a title.

Services raise ``ProtectionError(code)``, a DRF ``APIException``: any
exception handler renders it with its status, ``WWW-Authenticate`` and
``Retry-After`` (DRF's default one as ``{"detail": ...}``), and
``protection.errors`` turns it (and every DRF or Django error) into an RFC
9457 problem+json response with the code. The
catalogue below, plus the codes other apps add with ``error_codes_register``
(from their ``AppConfig.ready``), is the list of codes clients may see; the
OpenAPI document and the docs are written from it.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple

from rest_framework.exceptions import APIException, AuthenticationFailed


class ErrorSpec(NamedTuple):
    status: int
    title: str
    detail: str


ERROR_CATALOGUE: dict[str, ErrorSpec] = {
    # 400
    "invalid_request": ErrorSpec(400, "Invalid request", "The request body is not valid."),
    "malformed_json": ErrorSpec(400, "Malformed JSON", "The request body is not valid JSON."),
    "host_not_allowed": ErrorSpec(
        400, "Host not allowed", "This server does not answer for the requested Host."
    ),
    # 401
    "api_key_missing": ErrorSpec(401, "API key missing", "Send your API key in X-Api-Key."),
    "api_key_invalid": ErrorSpec(401, "API key invalid", "The API key is not valid."),
    "api_key_expired": ErrorSpec(401, "API key expired", "The API key has expired."),
    "api_key_revoked": ErrorSpec(401, "API key revoked", "The API key has been revoked."),
    "token_missing": ErrorSpec(401, "Token missing", "Send an access token as Bearer."),
    "token_invalid": ErrorSpec(401, "Token invalid", "The token is not valid."),
    "token_expired": ErrorSpec(401, "Token expired", "The token has expired."),
    "session_revoked": ErrorSpec(401, "Session revoked", "The session has been revoked."),
    "session_expired": ErrorSpec(401, "Session expired", "The session has expired."),
    # 403
    "origin_not_allowed": ErrorSpec(
        403, "Origin not allowed", "This API key may not be used from this origin."
    ),
    "scope_denied": ErrorSpec(403, "Scope denied", "This API key may not call this endpoint."),
    "api_key_in_query": ErrorSpec(
        403, "API key in query string", "Send the API key in the X-Api-Key header only."
    ),
    "secret_key_in_browser": ErrorSpec(
        403, "Secret key used from a browser", "Secret keys must never be used from a browser."
    ),
    "blocked": ErrorSpec(403, "Forbidden", "The request was refused."),
    "challenge_failed": ErrorSpec(
        403, "Challenge failed", "The proof-of-work solution is missing, invalid or expired."
    ),
    "challenge_replayed": ErrorSpec(
        403, "Challenge replayed", "This challenge has already been used; request a new one."
    ),
    "recaptcha_failed": ErrorSpec(
        403, "Verification failed", "The reCAPTCHA token is missing or was not accepted."
    ),
    "captcha_failed": ErrorSpec(
        403, "Verification failed", "The CAPTCHA token is missing or was not accepted."
    ),
    "forbidden": ErrorSpec(403, "Forbidden", "The request was refused."),
    # The network policy (protection.keys.network_policy) denies this network class.
    "network_refused": ErrorSpec(
        403, "Network refused", "Requests from this network are not accepted."
    ),
    # The challenge ladder (protection.policy.ladder): the client's risk tier
    # says deny, at challenge issuance and at session start.
    "risk_too_high": ErrorSpec(
        403, "Risk too high", "This client cannot be given a session now; try again later."
    ),
    # App attestation (protection.attestation): "verification failed", so 403
    # like challenge_failed, also when the evidence is missing altogether.
    "attestation_required": ErrorSpec(
        403, "Attestation required", "This API key requires app attestation evidence."
    ),
    "attestation_invalid": ErrorSpec(
        403, "Attestation invalid", "The app attestation evidence was not accepted."
    ),
    "attestation_replayed": ErrorSpec(
        403, "Attestation replayed", "This attestation evidence has already been used."
    ),
    "attestation_unavailable": ErrorSpec(
        503, "Attestation unavailable", "App attestation could not be checked; retry later."
    ),
    # --- DPoP (RFC 9449, protection.dpop) and Apple App Attest -----------
    # The dpop_* errors carry WWW-Authenticate: DPoP error="..." (RFC 9449 section 7.1).
    "dpop_required": ErrorSpec(
        401,
        "DPoP proof required",
        "This token is bound to a key: send it as Authorization: DPoP with a DPoP proof.",
    ),
    "dpop_proof_invalid": ErrorSpec(401, "DPoP proof invalid", "The DPoP proof is not valid."),
    "dpop_replayed": ErrorSpec(
        401, "DPoP proof replayed", "This DPoP proof was already used; sign a new one."
    ),
    "dpop_binding_mismatch": ErrorSpec(
        401,
        "DPoP key mismatch",
        "The DPoP proof is not signed by the key this token is bound to.",
    ),
    "dpop_nonce_required": ErrorSpec(
        401,
        "DPoP nonce required",
        "Sign a new DPoP proof with the nonce from the DPoP-Nonce response header.",
    ),
    # --- Private Access Tokens (RFC 9577, protection.challenges.pat) -------
    # The pat_* 401s carry WWW-Authenticate: PrivateToken challenge="...", token-key="...".
    "pat_required": ErrorSpec(
        401,
        "Private Access Token required",
        "Present a Private Access Token for the challenge in WWW-Authenticate, as "
        'Authorization: PrivateToken token="...".',
    ),
    "pat_invalid": ErrorSpec(
        401,
        "Private Access Token invalid",
        "The Private Access Token was not accepted; fetch one for the new challenge in "
        "WWW-Authenticate.",
    ),
    "pat_replayed": ErrorSpec(
        401,
        "Private Access Token replayed",
        "This token's challenge was already redeemed; fetch a token for the new challenge.",
    ),
    # 404, 405, 406, 409, 413, 414, 415, 431
    "not_found": ErrorSpec(404, "Not found", "No such resource."),
    "method_not_allowed": ErrorSpec(405, "Method not allowed", "This method is not allowed here."),
    "not_acceptable": ErrorSpec(406, "Not acceptable", "Only application/json is served."),
    "conflict": ErrorSpec(409, "Conflict", "The resource already exists."),
    "api_key_already_revoked": ErrorSpec(
        409, "API key already revoked", "This API key is already revoked."
    ),
    "api_key_already_rotated": ErrorSpec(
        409, "API key already rotated", "This API key already has an active successor."
    ),
    "payload_too_large": ErrorSpec(413, "Payload too large", "The request body is too large."),
    # Answered by nginx (deploy/nginx.conf.template) for gunicorn or itself.
    "uri_too_long": ErrorSpec(414, "URI too long", "The request line is too long."),
    "headers_too_large": ErrorSpec(
        431, "Request header fields too large", "The request headers are too large or too many."
    ),
    "unsupported_media_type": ErrorSpec(
        415, "Unsupported media type", "Send the body as application/json."
    ),
    # 429
    "rate_limited": ErrorSpec(429, "Too many requests", "Rate limit exceeded; retry later."),
    # 500, 503
    "internal_error": ErrorSpec(500, "Internal error", "An unexpected error occurred."),
    "recaptcha_unavailable": ErrorSpec(
        503, "Verification unavailable", "The CAPTCHA could not be verified; retry later."
    ),
    "captcha_unavailable": ErrorSpec(
        503, "Verification unavailable", "The CAPTCHA could not be verified; retry later."
    ),
    "pat_unavailable": ErrorSpec(
        503,
        "Private Access Tokens unavailable",
        "Private Access Tokens cannot be checked right now; retry later.",
    ),
    "service_unavailable": ErrorSpec(
        503, "Service unavailable", "A backing service is unavailable; retry later."
    ),
}


def problem_body(
    code: str,
    detail: str | None = None,
    *,
    status: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The RFC 9457 body for a catalogue ``code`` (the edge renders it as problem+json)."""
    spec = ERROR_CATALOGUE[code]
    body: dict[str, Any] = {
        "type": f"urn:gatehouse:problem:{code}",
        "title": spec.title,
        "status": status or spec.status,
        "detail": detail or spec.detail,
        "code": code,
    }
    # Extension members never replace the standard ones (RFC 9457 section 3.2).
    body.update({name: value for name, value in (extra or {}).items() if name not in body})
    return body


def error_codes_register(codes: Mapping[str, ErrorSpec]) -> None:
    """Add an app's own error codes to the catalogue (a code is defined once)."""
    for code, spec in codes.items():
        if ERROR_CATALOGUE.get(code, spec) != spec:
            raise ValueError(f"Error code {code!r} is already defined differently")
        ERROR_CATALOGUE[code] = spec


class ProtectionError(APIException):
    """A refusal with a stable code from ERROR_CATALOGUE.

    ``headers`` are added to the HTTP response (e.g. Retry-After);
    ``extra`` members are added to the problem body (never secrets). As a
    DRF exception it carries ``status_code``, ``detail`` (with the code),
    ``auth_header`` and ``wait``, the attributes DRF's handler reads.
    """

    def __new__(cls, code: str, *args: Any, **kwargs: Any) -> "ProtectionError":
        # A 401 is also DRF's AuthenticationFailed: DRF's APIView then adds the
        # view's WWW-Authenticate challenge to it under any exception handler
        # (a refresh token refused by a service carries none of its own).
        spec = ERROR_CATALOGUE.get(code)
        if cls is ProtectionError and spec is not None and spec.status == 401:
            cls = ProtectionAuthenticationFailed
        return super().__new__(cls)

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        if code not in ERROR_CATALOGUE:
            raise ValueError(f"Unknown error code {code!r}: add it to ERROR_CATALOGUE")
        spec = ERROR_CATALOGUE[code]
        self.code = code
        self.status = self.status_code = spec.status
        self.title = spec.title
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})
        super().__init__(detail or spec.detail, code)

    @property
    def auth_header(self) -> str | None:
        """The ``WWW-Authenticate`` challenge of a 401 (DRF's handler sends it)."""
        return self.headers.get("WWW-Authenticate")

    @auth_header.setter
    def auth_header(self, value: str) -> None:
        # DRF's handler sets the view's generic challenge on every 401; the
        # refusing step's own (ApiKey, Bearer, a DPoP error) wins.
        self.headers.setdefault("WWW-Authenticate", value)

    @property
    def wait(self) -> float | None:
        """Seconds to wait before retrying (``Retry-After``), if any."""
        value = self.headers.get("Retry-After")
        return float(value) if value else None

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


class ProtectionAuthenticationFailed(ProtectionError, AuthenticationFailed):
    """A ``ProtectionError`` with status 401 (``ProtectionError(code)`` makes one).

    DRF's ``APIView.handle_exception`` gives an ``AuthenticationFailed`` the
    view's ``WWW-Authenticate`` challenge when it has none: RFC 9110 wants
    one on every 401, whichever exception handler renders it.
    """
