"""OpenAPI (drf-spectacular) pieces shared by every gatehouse endpoint.

``problem_responses(codes)`` documents each status with the stable problem
``code`` values a client may receive there, taken from
``protection.exceptions.ERROR_CATALOGUE`` so the document cannot drift from
what the server sends. The two authentication extensions describe the
``X-Api-Key`` header and the session Bearer token as security schemes.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

from protection.errors import PROBLEM_CONTENT_TYPE
from protection.exceptions import ERROR_CATALOGUE

API_KEY_SCHEME = {"type": "apiKey", "in": "header", "name": "X-Api-Key"}

Problem = inline_serializer(
    "Problem",
    {
        "type": serializers.CharField(help_text="urn:gatehouse:problem:<code>"),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(help_text="Stable machine code; see the description."),
        "errors": serializers.ListField(
            child=inline_serializer(
                "ProblemFieldError",
                {
                    "field": serializers.CharField(),
                    "code": serializers.CharField(),
                    "detail": serializers.CharField(),
                },
            ),
            required=False,
            help_text="Validation errors (400 invalid_request only).",
        ),
    },
)

# Codes an endpoint behind ApiKeyAuthentication + HasApiKeyScope can answer.
KEY_CODES = [
    "api_key_missing",
    "api_key_invalid",
    "api_key_expired",
    "api_key_revoked",
    "origin_not_allowed",
    "scope_denied",
    "api_key_in_query",
    "secret_key_in_browser",
    "blocked",
]
# What the session's Bearer token adds (SessionTokenAuthentication).
TOKEN_CODES = [
    "token_missing",
    "token_invalid",
    "token_expired",
    "session_revoked",
    "session_expired",
]
AUTH_CODES = KEY_CODES + TOKEN_CODES
COMMON_CODES = [
    "invalid_request",
    "malformed_json",
    "payload_too_large",
    "unsupported_media_type",
    "rate_limited",
    "service_unavailable",
]


def problem_responses(codes: list[str]) -> dict[Any, OpenApiResponse]:
    """Map each status of ``codes`` to a problem+json response listing its codes."""
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_CATALOGUE[code].status, []).append(code)
    responses: dict[Any, OpenApiResponse] = {}
    for status, status_codes in sorted(by_status.items()):
        lines = [f"- `{code}`: {ERROR_CATALOGUE[code].detail}" for code in status_codes]
        if status == 429:
            lines.append("\nCarries `Retry-After` (seconds).")
        first = status_codes[0]
        responses[(status, PROBLEM_CONTENT_TYPE)] = OpenApiResponse(
            response=Problem,
            description="\n".join([f"{ERROR_CATALOGUE[first].title} (`code`):", *lines]),
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
                for code in status_codes
            ],
        )
    return responses


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """``X-Api-Key`` alone (challenges, sessions, refresh)."""

    target_class = "protection.authentication.ApiKeyAuthentication"
    # Not "ApiKeyAuth": drf-spectacular names one component per class, and the
    # session scheme below already registers the same header under that name.
    name = "ApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return API_KEY_SCHEME


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """``X-Api-Key`` AND the session's Bearer access token (sign-up endpoints)."""

    target_class = "protection.authentication.SessionTokenAuthentication"
    name = ["ApiKeyAuth", "SessionBearerAuth"]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, Any]]:
        return [API_KEY_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}]
