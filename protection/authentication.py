"""DRF authentication classes: read the request, call a service, attach the caller.

``ApiKeyAuthentication`` verifies ``X-Api-Key``; ``SessionTokenAuthentication``
also verifies the Bearer access token of an anonymous session issued under
that same key. Both set ``request.auth`` to a ``Caller``.
"""

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from protection.blocks import blocks_check
from protection.exceptions import ProtectionError
from protection.keys import ApiKey, api_key_from_request
from protection.sessions import AnonymousSession, session_authenticate


@dataclass(frozen=True)
class Caller:
    """What is calling (the API key) and, on session endpoints, who (the session)."""

    api_key: ApiKey
    session: AnonymousSession | None = None


class ApiKeyAuthentication(BaseAuthentication):
    """Verify ``X-Api-Key`` (never the query string) and attach ``Caller(api_key)``."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Caller]:
        try:
            api_key = api_key_from_request(request=request)
        except ProtectionError as exc:
            if exc.status == 401:
                # RFC 9110: a 401 names the scheme to use; here the key's, even on
                # subclasses that add a second credential.
                challenge = ApiKeyAuthentication.authenticate_header(self, request)
                exc.headers.setdefault("WWW-Authenticate", challenge)
            raise
        blocks_check(api_key=api_key, request=request)
        return AnonymousUser(), Caller(api_key=api_key)

    def authenticate_header(self, request: Request) -> str:
        return 'ApiKey header="X-Api-Key"'


class SessionTokenAuthentication(ApiKeyAuthentication):
    """``X-Api-Key`` plus ``Authorization: Bearer <access token>``.

    ``request.auth`` becomes ``Caller(api_key, session)``: the session is
    active (checked in the database on every request, so a revocation is
    immediate) and was issued under this same key.
    """

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Caller]:
        user, caller = super().authenticate(request)
        scheme, _, raw_token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        raw_token = raw_token.strip() if scheme.lower() == "bearer" else ""
        try:
            session = session_authenticate(
                raw_token=raw_token, api_key=caller.api_key, request=request
            )
        except ProtectionError as exc:
            # RFC 6750: a refused bearer token names the scheme to use.
            exc.headers.setdefault("WWW-Authenticate", self.authenticate_header(request))
            raise
        blocks_check(session=session, request=request)  # the session's device too
        return user, Caller(api_key=caller.api_key, session=session)

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="gatehouse"'
