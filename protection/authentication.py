"""DRF authentication classes: adapters over the gate's steps api_key … session_block.

``ApiKeyAuthentication`` verifies ``X-Api-Key``: ``request.user`` stays
anonymous (a key says *what* calls, not who) and ``request.auth`` is a
``Caller``. ``SessionTokenAuthentication`` also verifies the access token of
an anonymous session issued under that same key (Bearer, or DPoP with a
proof): ``request.user`` is a ``SessionUser`` (authenticated) and
``request.auth`` the ``Caller`` with the session. The decisions, and their
order, are ``protection.http.gate``'s; a refusal is a DRF exception
(``ProtectionError`` is an ``APIException``) with ``WWW-Authenticate``, so
DRF's own exception handler answers 401/403 correctly too.

The token is verified offline; whether its session was revoked is read in
the request's one round trip (the throttle's count step), or at once for a
view without an endpoint group.
"""

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from protection.dpop import dpop_www_authenticate
from protection.http.context import Caller
from protection.http.gate import API_KEY_CHALLENGE, BEARER_CHALLENGE, gate_caller
from protection.keys import ApiKey
from protection.sessions import SessionClaims


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


class ApiKeyAuthentication(BaseAuthentication):
    """Verify ``X-Api-Key`` (never the query string) and attach ``Caller(api_key)``.

    On a view with ``dpop_binds_session = True`` (session start) a DPoP proof,
    when sent or required by the key, names the key the tokens will be bound to.
    """

    def authenticate(self, request: Request) -> tuple[Any, Caller]:
        view = (getattr(request, "parser_context", None) or {}).get("view")
        binds = bool(getattr(view, "dpop_binds_session", False))
        return AnonymousUser(), gate_caller(request, session=False, dpop_binds_session=binds)

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_CHALLENGE


class SessionTokenAuthentication(ApiKeyAuthentication):
    """``X-Api-Key`` plus ``Authorization: Bearer <access token>`` (or ``DPoP``).

    ``request.auth`` becomes ``Caller(api_key, session)``: the token is valid,
    was issued under this same key, and its session is not revoked.
    """

    def authenticate(self, request: Request) -> tuple[Any, Caller]:
        caller = gate_caller(request, session=True)
        assert caller.session is not None
        return SessionUser(caller.session), caller

    def authenticate_header(self, request: Request) -> str:
        return f"{BEARER_CHALLENGE}, {dpop_www_authenticate()}"


__all__ = [
    "ApiKey",
    "ApiKeyAuthentication",
    "Caller",
    "SessionTokenAuthentication",
    "SessionUser",
]
