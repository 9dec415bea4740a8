"""drf-spectacular extensions: the gatehouse credentials as OpenAPI security schemes.

One ``ApiKeyAuth`` scheme (the ``X-Api-Key`` header) and two schemes for
the session's access token: ``SessionBearerAuth`` (``Authorization: Bearer``)
and ``SessionDPoPAuth`` (``Authorization: DPoP``, RFC 9449, for tokens bound
to a key). Session endpoints require the key AND one of the two.
``PrivateTokenAuth`` (``Authorization: PrivateToken``, RFC 9577) is the
optional second credential of session start (``protection.openapi`` adds
it to operations that read the ``pat`` header set).

``SessionDPoPAuth`` is an ``apiKey`` scheme on the ``Authorization`` header
whose value is the whole ``DPoP <access>``, not ``type: http, scheme: DPoP``:
"DPoP" is a registered HTTP authentication scheme, but client generators and
tools only implement ``basic`` and ``bearer`` for ``type: http``
(Swagger UI's Authorize dialog; some openapi-generator targets treat any
other http scheme as Basic, openapi-generator issue 5025), while every one of
them sends an ``apiKey`` header value verbatim. The proof itself changes on
every request, so it is the ``DPoP`` header parameter
(``protection.openapi``), not a scheme.

Imported by ``ProtectionConfig.ready`` so any project that installs the app
gets them. Error responses and headers are derived in
``protection.openapi``.
"""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import ResolvedComponent

API_KEY_SCHEME_NAME = "ApiKeyAuth"
API_KEY_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "X-Api-Key",
    "description": "The client application's API key (never in the query string).",
}
SESSION_SCHEME_NAME = "SessionBearerAuth"
SESSION_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "The access token of an anonymous session (POST /api/v1/sessions).",
}

DPOP_SCHEME_NAME = "SessionDPoPAuth"
DPOP_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": (
        "`DPoP <access token>` for a DPoP-bound session (`token_type: DPoP`), with a fresh "
        "proof in the `DPoP` header on every request (RFC 9449). The value includes the "
        '"DPoP " prefix: OpenAPI tools only implement Basic and Bearer as http schemes.'
    ),
}

PRIVATE_TOKEN_SCHEME_NAME = "PrivateTokenAuth"
PRIVATE_TOKEN_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "Authorization",
    "description": (
        '`PrivateToken token="<base64url Token>"` (RFC 9577): a Private Access Token '
        "(type 0x0002, blind RSA) for a challenge from `WWW-Authenticate: PrivateToken "
        'challenge="...", token-key="..."`, which a 401 of a key that requires `pat` '
        "carries. Session start only. An apiKey scheme for the reason given for DPoP."
    ),
}


def _register_api_key_scheme(auto_schema: Any) -> None:
    from protection.authentication import ApiKeyAuthentication

    # Registered under the ApiKeyAuthentication class whichever extension
    # comes first, so the two never collide and the scheme exists once.
    auto_schema.registry.register_on_missing(
        ResolvedComponent(
            name=API_KEY_SCHEME_NAME,
            type=ResolvedComponent.SECURITY_SCHEMA,
            object=ApiKeyAuthentication,
            schema=API_KEY_SCHEME,
        )
    )


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """``X-Api-Key`` alone (challenges, sessions, refresh)."""

    target_class = "protection.authentication.ApiKeyAuthentication"
    match_subclasses = False
    name = API_KEY_SCHEME_NAME

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return API_KEY_SCHEME


class SessionAuthenticationScheme(OpenApiAuthenticationExtension):
    """``X-Api-Key`` AND the session's access token, as Bearer or as DPoP."""

    target_class = "protection.authentication.SessionTokenAuthentication"
    match_subclasses = True
    name = [SESSION_SCHEME_NAME, DPOP_SCHEME_NAME]

    def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
        _register_api_key_scheme(auto_schema)
        return [
            {API_KEY_SCHEME_NAME: [], SESSION_SCHEME_NAME: []},
            {API_KEY_SCHEME_NAME: [], DPOP_SCHEME_NAME: []},
        ]

    def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
        return [SESSION_SCHEME, DPOP_SCHEME]
