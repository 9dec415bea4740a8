"""DRF authentication classes: read the request, call a service, attach the caller.

``ApiKeyAuthentication`` verifies ``X-Api-Key``: ``request.user`` stays
anonymous (a key says *what* calls, not who) and ``request.auth`` is a
``Caller``. ``SessionTokenAuthentication`` also verifies the Bearer access
token of an anonymous session issued under that same key: ``request.user``
is a ``SessionUser`` (authenticated) and ``request.auth`` the ``Caller``
with the session.

The token is verified offline. Whether its session was revoked is read in
the request's one cache round trip when the view counts limits through
``GatehouseRateThrottle`` (a ``rate_limit_group``); otherwise at once,
here. Failures are DRF exceptions (``protection.errors.drf_exception``)
with ``WWW-Authenticate``, so DRF's own exception handler answers 401/403
correctly too.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from protection.base.exceptions import ProtectionError
from protection.blocks import blocks_check
from protection.dpop import dpop_request_verify, dpop_www_authenticate
from protection.errors import drf_exception
from protection.http.context import BEARER_CHALLENGE, Caller, request_context
from protection.keys import ApiKey, api_key_query_refusal, api_key_verify
from protection.sessions import SessionClaims, session_token_verify

API_KEY_CHALLENGE = 'ApiKey header="X-Api-Key"'


class SessionUser:
    """The user of a request authenticated by a session token (like simplejwt's
    ``TokenUser``): no database row; ``pk`` is the session id."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, session: SessionClaims) -> None:
        self.session = session
        self.api_key = session.api_key
        self.pk = self.id = session.id

    def __str__(self) -> str:
        return f"session {self.pk}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


def _refused(error: ProtectionError, challenge: str) -> Exception:
    if error.status == 401:
        # RFC 9110: a 401 names the scheme to use.
        error.headers.setdefault("WWW-Authenticate", challenge)
    return drf_exception(error)


class ApiKeyAuthentication(BaseAuthentication):
    """Verify ``X-Api-Key`` (never the query string) and attach ``Caller(api_key)``."""

    def authenticate(self, request: Request) -> tuple[Any, Caller]:
        context = request_context(request)
        meta = request._request.META if hasattr(request, "_request") else request.META
        try:
            api_key_query_refusal(meta.get("QUERY_STRING", ""))
            api_key = api_key_verify(
                raw_key=meta.get("HTTP_X_API_KEY", ""), origin=meta.get("HTTP_ORIGIN")
            )
            blocks_check(api_key=api_key)
        except ProtectionError as error:
            raise _refused(error, API_KEY_CHALLENGE) from None
        context.key_known(api_key)
        return AnonymousUser(), Caller(api_key=api_key)

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_CHALLENGE


def _counts_limits(request: Request) -> bool:
    """Whether the view counts limits through the gatehouse throttle (one round trip)."""
    from protection.throttling import GatehouseRateThrottle

    view = (getattr(request, "parser_context", None) or {}).get("view")
    if view is None or not getattr(view, "rate_limit_group", None):
        return False
    return any(
        isinstance(throttle, type) and issubclass(throttle, GatehouseRateThrottle)
        for throttle in getattr(view, "throttle_classes", ())
    )


class SessionTokenAuthentication(ApiKeyAuthentication):
    """``X-Api-Key`` plus ``Authorization: Bearer <access token>``.

    ``request.auth`` becomes ``Caller(api_key, session)``: the token is valid,
    was issued under this same key, and its session is not revoked (read on
    every request, so a revocation is immediate).
    """

    def authenticate(self, request: Request) -> tuple[Any, Caller]:
        _user, caller = super().authenticate(request)
        context = request_context(request)
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, raw_token = header.partition(" ")
        raw_token = raw_token.strip() if scheme.lower() in ("bearer", "dpop") else ""
        try:
            session = session_token_verify(
                raw_token=raw_token, api_key=caller.api_key, client_ip=context.client_ip
            )
            # RFC 9449: a DPoP-bound token needs the DPoP scheme and a fresh
            # proof by its key; sent as Bearer (a stolen copy) it fails.
            dpop_request_verify(
                scheme=scheme,
                access_token=raw_token,
                token_jkt=session.jkt,
                proof=request.META.get("HTTP_DPOP"),
                method=request.method,
                url=request.path,
                client_ip=context.client_ip,
                api_key=caller.api_key,
                session_id=session.id,
            )
            blocks_check(session=session)  # the session's device too
            context.session_known(session)
            if not _counts_limits(request):
                context.session_check_now()
        except ProtectionError as error:
            raise _refused(error, BEARER_CHALLENGE) from None
        return SessionUser(session), Caller(api_key=caller.api_key, session=session)

    def authenticate_header(self, request: Request) -> str:
        return f"{BEARER_CHALLENGE}, {dpop_www_authenticate()}"


__all__ = [
    "ApiKey",
    "ApiKeyAuthentication",
    "Caller",
    "SessionTokenAuthentication",
    "SessionUser",
]
