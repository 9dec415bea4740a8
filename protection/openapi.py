"""The OpenAPI document, derived from what each view really runs.

``AutoSchema`` (set it as ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]``) adds to
every operation the problem+json responses its request can end in, read from
the view itself rather than listed by hand:

- every API request: 400 (bad Content-Length), 403 ``blocked`` (IP blocks),
  404, 405, 406, 413 and 503;
- a body (POST, PUT, PATCH) through a parser: 400 ``malformed_json``, 415;
- each authentication and permission class: its codes, from the class's own
  ``error_codes`` attribute or ``CLASS_ERROR_CODES`` below (401s carry
  ``WWW-Authenticate``);
- a ``rate_limit_group`` or any other throttle: 429 ``rate_limited`` with
  ``Retry-After`` and the IETF ``RateLimit`` / ``RateLimit-Policy`` fields;
- the view's ``error_codes`` class attribute: its domain codes (409
  ``conflict``...);
- each *request header set* in effect (see below): its codes.

Request headers a client may send are derived the same way, as named
``REQUEST_HEADER_SETS`` (``dpop``: the ``DPoP`` proof; ``attestation``: the
Approov, App Check and App Attest assertion headers; ``attestation_session``:
those plus the App Attest attestation sent at session start; ``pat``: a
Private Access Token, documented as the ``PrivateTokenAuth`` security
alternative since OpenAPI ignores an ``Authorization`` header parameter). A class brings
its sets through ``CLASS_REQUEST_HEADERS`` (``SessionTokenAuthentication``
implies ``dpop``, ``HasAppAttestation`` implies ``attestation``), a view adds
its own with a ``request_headers`` class attribute. Each set documents its
header parameters (names read from ``GATEHOUSE`` settings at generation),
its problem codes and, for ``dpop``, the ``DPoP-Nonce`` response header on
401.

Each status documents the codes of ``protection.base.exceptions.ERROR_CATALOGUE``
it can carry, with one example each, against one shared ``Problem``
component. Request bodies of ``StrictSerializer`` subclasses get
``additionalProperties: false`` (and a ``oneOf`` for ``exactly_one_of`` or
``one_of_field_sets``), because the server refuses what they leave out.

Longer than ~300 lines on purpose: the problem codes, headers and body
rules of every status are one description; split, each part would need
the others.
"""

from collections.abc import Callable, Iterable
from typing import Any, Literal, NamedTuple

from django.core.validators import ProhibitNullCharactersValidator, RegexValidator
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent, force_instance
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse
from rest_framework.throttling import BaseThrottle

from protection.base.exceptions import ERROR_CATALOGUE
from protection.conf import gatehouse_settings
from protection.dpop import dpop_algorithms
from protection.errors import PROBLEM_CONTENT_TYPE
from protection.http.schema import PRIVATE_TOKEN_SCHEME, PRIVATE_TOKEN_SCHEME_NAME
from protection.http.serializers import StrictSerializer
from protection.middleware import view_rate_limit_group
from protection.throttling import GatehouseRateThrottle

# What any request under the API prefix can be answered, whatever the view:
# a Content-Length that is not a number (ApiProblemMiddleware), a blocked IP
# (BlockAndRateLimitMiddleware), routing, content negotiation, an oversized
# body, a backing service down.
EVERY_REQUEST_CODES = [
    "invalid_request",
    "blocked",
    "not_found",
    "method_not_allowed",
    "not_acceptable",
    "payload_too_large",
    "service_unavailable",
]
# A body read through DRF's parsers.
BODY_CODES = ["malformed_json", "unsupported_media_type"]
BODY_METHODS = {"POST", "PUT", "PATCH"}

# Codes of the gatehouse DRF classes, by dotted path; a class's own
# ``error_codes`` attribute wins. Subclasses inherit their bases' codes.
CLASS_ERROR_CODES: dict[str, list[str]] = {
    "protection.authentication.ApiKeyAuthentication": [
        "api_key_missing",
        "api_key_invalid",
        "api_key_expired",
        "api_key_revoked",
        "origin_not_allowed",
        "api_key_in_query",
        "secret_key_in_browser",
        "blocked",
    ],
    "protection.authentication.SessionTokenAuthentication": [
        "token_missing",
        "token_invalid",
        "token_expired",
        "session_revoked",
        "session_expired",
    ],
    "protection.permissions.HasApiKeyScope": ["scope_denied"],
}

PROBLEM_COMPONENT = "Problem"
NO_NUL_PATTERN = "^[^\\u0000]+$"

_STRING = {"type": "string"}
RATELIMIT_HEADERS = {
    "RateLimit-Policy": {
        "schema": _STRING,
        "description": (
            'Quota policies applied to this request (IETF draft), e.g. `"ip-1m";q=30;w=60`.'
        ),
    },
    "RateLimit": {
        "schema": _STRING,
        "description": 'Remaining quota of each policy (IETF draft), e.g. `"ip-1m";r=29;t=42`.',
    },
}
RETRY_AFTER = {
    "schema": {"type": "integer", "minimum": 0},
    "description": "Seconds to wait before retrying.",
}
WWW_AUTHENTICATE = {
    "schema": _STRING,
    "description": (
        'The credential to send: the API key header (`ApiKey header="X-Api-Key"`), or for '
        'session endpoints both token schemes, e.g. `Bearer realm="gatehouse", '
        'DPoP algs="ES256"`; a refused DPoP proof or binding names its RFC 9449 error, '
        '`DPoP error="invalid_dpop_proof", algs="ES256"`. At session start, for a key that '
        "requires `pat`, `pat_*` refusals carry one Private Access Token challenge per "
        'trusted issuer (RFC 9577): `PrivateToken challenge="<base64url TokenChallenge>", '
        'token-key="<base64url issuer key>", max-age="300"`; so does any refusal for '
        "missing evidence when a valid token would lower what the challenge ladder asks."
    ),
    "required": True,
}
PAT_OFFER = {
    "schema": _STRING,
    "description": (
        "When a valid Private Access Token would lower what this client is asked (the "
        "challenge ladder added something) and token issuers are configured: one "
        'challenge per issuer (RFC 9577), `PrivateToken challenge="…", token-key="…", '
        'max-age="300"`. Send the token at session start as '
        '`Authorization: PrivateToken token="…"`.'
    ),
}
DPOP_NONCE = {
    "schema": _STRING,
    "description": (
        "A server nonce (RFC 9449 section 8), sent with 401 `dpop_nonce_required` when the "
        "server requires nonces: sign a new proof with it as the `nonce` claim and retry."
    ),
}

DPOP_CODES = [
    "dpop_required",
    "dpop_proof_invalid",
    "dpop_replayed",
    "dpop_binding_mismatch",
    "dpop_nonce_required",
]
PAT_CODES = ["pat_required", "pat_invalid", "pat_replayed", "pat_unavailable"]
ATTESTATION_CODES = [
    "attestation_required",
    "attestation_invalid",
    "attestation_replayed",
    "attestation_unavailable",
]


def _header(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, str, OpenApiParameter.HEADER, required=False, description=description
    )


def dpop_headers() -> list[OpenApiParameter]:
    """The ``DPoP`` proof header (the accepted algorithms read from the settings)."""
    algs = ", ".join(dpop_algorithms()) or "none"
    return [
        _header(
            "DPoP",
            "A DPoP proof (RFC 9449): a JWS with `typ: dpop+jwt`, `alg` one of "
            f"{algs}, the public `jwk`, and claims `jti` (fresh per request), `htm` "
            "(this method), `htu` (this endpoint's public URL, no query), `iat`, `ath` "
            "(base64url SHA-256 of the access token, when one is sent) and `nonce` when "
            "the server requires nonces. At session start it binds the tokens to the key "
            "(`token_type: DPoP`); a bound token is then sent as `Authorization: DPoP "
            "<access>` with a new proof on every request, refresh included. (No pattern: "
            "an unbound token sent as Bearer ignores the header, so the server does not "
            "refuse every malformed value.)",
        )
    ]


def attestation_headers(*, session: bool) -> list[OpenApiParameter]:
    """The app attestation evidence headers (names from the GATEHOUSE settings)."""
    headers = [
        _header(
            gatehouse_settings.APPROOV_HEADER,
            "An Approov token (verification `approov`).",
        ),
        _header(
            gatehouse_settings.APPCHECK_HEADER,
            "A Firebase App Check token (verification `app_check`).",
        ),
        _header(
            "X-Apple-AppAttest-KeyId",
            "The App Attest key id (verification `app_attest`): its presence means the "
            "request carries App Attest evidence.",
        ),
    ]
    if session:
        headers.append(
            _header(
                "X-Apple-AppAttest-Attestation",
                "The App Attest attestation object (base64), first session of a key id "
                "only; later sessions send an assertion instead.",
            )
        )
    headers += [
        _header(
            "X-Apple-AppAttest-Assertion",
            "An App Attest assertion (base64) over the client data.",
        ),
        _header(
            "X-Apple-AppAttest-ClientData",
            "The client data (base64 JSON) the attestation or assertion signs: the "
            "server challenge and, for an assertion, this request's method and path.",
        ),
    ]
    return headers


class HeaderSet(NamedTuple):
    """Request headers a client may send, and the codes their checks answer."""

    headers: Callable[[], list[OpenApiParameter]]
    codes: list[str]


REQUEST_HEADER_SETS: dict[str, HeaderSet] = {
    "dpop": HeaderSet(dpop_headers, DPOP_CODES),
    "attestation": HeaderSet(lambda: attestation_headers(session=False), ATTESTATION_CODES),
    "attestation_session": HeaderSet(lambda: attestation_headers(session=True), ATTESTATION_CODES),
    # Authorization: PrivateToken is a security scheme (OpenAPI ignores an
    # Authorization header parameter): AutoSchema.get_auth adds it.
    "pat": HeaderSet(list, PAT_CODES),
}
# Header sets of the gatehouse DRF classes, by dotted path (a class's own
# ``request_headers`` attribute wins); subclasses inherit their bases' sets.
CLASS_REQUEST_HEADERS: dict[str, list[str]] = {
    # Authorization: DPoP <access> + a proof, for DPoP-bound tokens.
    "protection.authentication.SessionTokenAuthentication": ["dpop"],
    # Evidence on every request for keys with attest_every_request.
    "protection.permissions.HasAppAttestation": ["attestation"],
}


def problem_codes() -> list[str]:
    """Every code of the catalogue (``ENUM_NAME_OVERRIDES`` names their enum with it)."""
    return sorted(ERROR_CATALOGUE)


def problem_schema() -> dict[str, Any]:
    """The RFC 9457 body every error has; ``code`` is one of the catalogue's."""
    return {
        "type": "object",
        "description": "RFC 9457 problem details (application/problem+json).",
        "properties": {
            "type": {"type": "string", "description": "urn:gatehouse:problem:<code>"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {
                "type": "string",
                "enum": problem_codes(),
                "description": "Stable machine code (the response lists those it can carry).",
            },
            "requires": {
                "type": "array",
                "items": {"type": "string"},
                "description": "A session start refused for missing or failed evidence (or "
                "`pat_*`): the evidence that would be accepted, the key's required "
                "verifications plus what the challenge ladder asks of this client.",
            },
            "requires_with_pat": {
                "type": "array",
                "items": {"type": "string"},
                "description": "With `requires`, when a valid Private Access Token would lower "
                "it: what would be accepted with one (the response then carries a "
                "`WWW-Authenticate: PrivateToken` challenge to obtain it).",
            },
            "errors": {
                "type": "array",
                "description": "Field errors (400 invalid_request only).",
                "items": {
                    "type": "object",
                    "properties": {
                        "field": {"type": "string"},
                        "code": {"type": "string"},
                        "detail": {"type": "string"},
                    },
                    "required": ["field", "code", "detail"],
                },
            },
        },
        "required": ["type", "title", "status", "detail", "code"],
        # RFC 9457 extension members (the health report on 503, for instance).
        "additionalProperties": True,
    }


def class_error_codes(cls: type) -> list[str]:
    """The problem codes a DRF authentication or permission class can answer."""
    own = getattr(cls, "error_codes", None)
    if own is not None:
        return list(own)
    codes: list[str] = []
    for klass in reversed(cls.__mro__):
        codes += CLASS_ERROR_CODES.get(f"{klass.__module__}.{klass.__qualname__}", [])
    return codes


def class_request_headers(cls: type) -> list[str]:
    """The request header sets (``REQUEST_HEADER_SETS`` names) a DRF class reads."""
    own = getattr(cls, "request_headers", None)
    if own is not None:
        return list(own)
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        names += CLASS_REQUEST_HEADERS.get(f"{klass.__module__}.{klass.__qualname__}", [])
    return names


def _unique(codes: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(codes))


def problem_response(status: int, codes: list[str]) -> OpenApiResponse:
    """A problem+json response naming each of ``codes`` (all of one status)."""
    first = ERROR_CATALOGUE[codes[0]]
    lines = [f"- `{code}`: {ERROR_CATALOGUE[code].detail}" for code in codes]
    return OpenApiResponse(
        response={"$ref": f"#/components/schemas/{PROBLEM_COMPONENT}"},
        description="\n".join([f"{first.title} (`code`):", *lines]),
        examples=[
            OpenApiExample(
                code,
                value={
                    "type": f"urn:gatehouse:problem:{code}",
                    "title": ERROR_CATALOGUE[code].title,
                    "status": status,
                    "detail": ERROR_CATALOGUE[code].detail,
                    "code": code,
                },
                response_only=True,
                status_codes=[str(status)],
            )
            for code in codes
        ],
    )


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema plus the errors and headers gatehouse views produce."""

    def operation_header_sets(self) -> list[str]:
        """The request header sets of this operation: its classes' and the view's."""
        view = self.view
        names: list[str] = []
        for authenticator in view.get_authenticators():
            names += class_request_headers(type(authenticator))
        for permission in view.get_permissions():
            names += class_request_headers(type(permission))
        names += getattr(view, "request_headers", [])
        unknown = [name for name in names if name not in REQUEST_HEADER_SETS]
        if unknown:
            raise ValueError(f"{type(view).__name__}: unknown request header sets: {unknown}")
        names = _unique(names)
        # attestation_session is attestation plus the session-start header.
        if "attestation_session" in names and "attestation" in names:
            names.remove("attestation")
        return names

    def get_auth(self) -> list[dict[str, list[str]]]:
        """The discovered security requirements; with the ``pat`` header set, each
        also as an alternative that adds ``Authorization: PrivateToken``."""
        auths = list(super().get_auth())
        if auths and "pat" in self.operation_header_sets():
            self.registry.register_on_missing(
                ResolvedComponent(
                    name=PRIVATE_TOKEN_SCHEME_NAME,
                    type=ResolvedComponent.SECURITY_SCHEMA,
                    object=PRIVATE_TOKEN_SCHEME_NAME,
                    schema=PRIVATE_TOKEN_SCHEME,
                )
            )
            auths += [{**auth, PRIVATE_TOKEN_SCHEME_NAME: []} for auth in auths]
        return auths

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        declared = {p.name.lower() for p in parameters if isinstance(p, OpenApiParameter)}
        for name in self.operation_header_sets():
            for parameter in REQUEST_HEADER_SETS[name].headers():
                if parameter.name.lower() not in declared:  # the view's own wins
                    declared.add(parameter.name.lower())
                    parameters.append(parameter)
        return parameters

    def operation_error_codes(self) -> list[str]:
        """Every catalogue code this operation can answer with."""
        view = self.view
        codes = list(EVERY_REQUEST_CODES)
        if self.method in BODY_METHODS and view.get_parsers():
            codes += BODY_CODES
        for authenticator in view.get_authenticators():
            codes += class_error_codes(type(authenticator))
        for permission in view.get_permissions():
            codes += class_error_codes(type(permission))
        if self.is_rate_limited():
            codes.append("rate_limited")
        codes += getattr(view, "error_codes", [])
        for name in self.operation_header_sets():
            codes += REQUEST_HEADER_SETS[name].codes
        unknown = [code for code in codes if code not in ERROR_CATALOGUE]
        if unknown:
            raise ValueError(f"{type(view).__name__}: codes not in ERROR_CATALOGUE: {unknown}")
        return _unique(codes)

    def is_rate_limited(self) -> bool:
        """True when a throttle (or the gatehouse middleware) counts this view."""
        if view_rate_limit_group(self.view) is not None:
            return True
        return any(
            isinstance(throttle, BaseThrottle) and not isinstance(throttle, GatehouseRateThrottle)
            for throttle in self.view.get_throttles()
        )

    def _register_problem(self) -> None:
        self.registry.register_on_missing(
            ResolvedComponent(
                name=PROBLEM_COMPONENT,
                type=ResolvedComponent.SCHEMA,
                object=PROBLEM_COMPONENT,
                schema=problem_schema(),
            )
        )

    def _get_response_bodies(self, direction: Literal["request", "response"] = "response") -> Any:
        responses = super()._get_response_bodies(direction)
        by_status: dict[int, list[str]] = {}
        for code in self.operation_error_codes():
            by_status.setdefault(ERROR_CATALOGUE[code].status, []).append(code)
        self._register_problem()
        for status, codes in sorted(by_status.items()):
            # A status the view documents itself keeps the view's description.
            if str(status) not in responses:
                responses[str(status)] = self._get_response_for_code(
                    problem_response(status, codes),
                    str(status),
                    [PROBLEM_CONTENT_TYPE],
                    direction,
                )
        return responses

    def _get_response_headers_for_code(self, status_code: Any, direction: str = "response") -> Any:
        headers = dict(super()._get_response_headers_for_code(status_code, direction))
        status = str(status_code)
        if self.is_rate_limited():
            for name, spec in RATELIMIT_HEADERS.items():
                headers.setdefault(name, spec)
        if status == "429":
            headers.setdefault("Retry-After", {**RETRY_AFTER, "required": True})
        elif status == "503":
            headers.setdefault("Retry-After", RETRY_AFTER)
        elif status == "401" and self.view.get_authenticators():
            headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
            if "dpop" in self.operation_header_sets():
                headers.setdefault("DPoP-Nonce", DPOP_NONCE)
        elif status == "403" and getattr(self.view, "risk_stage", "") == "session":
            headers.setdefault("WWW-Authenticate", PAT_OFFER)
        if status == "201" and getattr(self.view, "risk_stage", "") == "challenge":
            headers.setdefault("WWW-Authenticate", PAT_OFFER)
        return headers

    def _get_request_body(self, direction: str = "request") -> Any:
        body = super()._get_request_body(direction)
        serializer = force_instance(self.get_request_serializer()) if body else None
        if isinstance(serializer, StrictSerializer) and (
            serializer.exactly_one_of or serializer.one_of_field_sets
        ):
            body["required"] = True  # no body carries none of the fields: refused
        return body

    def _insert_field_validators(self, field: Any, schema: dict[str, Any]) -> None:
        validators = getattr(field, "validators", [])
        if (
            schema.get("type") == "string"
            and "pattern" not in schema
            and any(isinstance(v, ProhibitNullCharactersValidator) for v in validators)
            and not any(isinstance(v, RegexValidator) for v in validators)
        ):
            # DRF's CharField refuses NUL characters; "+" so that a blank-allowed
            # field's extra {"maxLength": 0} branch stays exclusive in its oneOf.
            schema["pattern"] = NO_NUL_PATTERN
        super()._insert_field_validators(field, schema)

    def _map_basic_serializer(self, serializer: Any, direction: str) -> Any:
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictSerializer):
            # The server refuses unknown fields and wrong combinations: say so.
            schema["additionalProperties"] = False
            if "__doc__" not in vars(type(serializer)) or not type(serializer).__doc__:
                schema.pop("description", None)  # StrictSerializer's own, not the body's
            if serializer.exactly_one_of:
                schema["oneOf"] = [{"required": [name]} for name in serializer.exactly_one_of]
            if serializer.one_of_field_sets:
                schema["oneOf"] = _field_set_branches(serializer.one_of_field_sets)
        return schema


def _field_set_branches(field_sets: tuple[tuple[str, ...], ...]) -> list[dict[str, Any]]:
    """One ``oneOf`` branch per field set: its fields, and none of the other sets'."""
    named = [name for fields in field_sets for name in fields]
    branches = []
    for fields in field_sets:
        others = [name for name in dict.fromkeys(named) if name not in fields]
        branch: dict[str, Any] = {"required": list(fields)}
        if others:
            branch["not"] = {"anyOf": [{"required": [name]} for name in others]}
        branches.append(branch)
    return branches


# Response headers a view declares in its ``extend_schema(parameters=...)``.
NO_STORE_HEADER = OpenApiParameter(
    "Cache-Control",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    required=True,
    description="`no-store`: tokens and one-time challenges must not be cached.",
)
