"""The caller of an authenticated request, typed: ``request_caller``, ``request_session``.

DRF types ``request.auth`` as anything a class may put there; views behind
gatehouse's authentication classes read the ``Caller`` (API key, and session
on session endpoints) through this, so a view mounted without them fails
with a clear 401 instead of an AttributeError (a 500).
"""

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from protection.http.context import Caller
from protection.sessions import SessionClaims


def request_caller(request: Request) -> Caller:
    """Return the ``Caller`` the authentication class set on ``request.auth``."""
    caller = request.auth
    if not isinstance(caller, Caller):
        raise NotAuthenticated()
    return caller


def request_session(request: Request) -> SessionClaims:
    """Return the session of a session endpoint's caller (a key-only caller is a 401)."""
    session = request_caller(request).session
    if session is None:
        raise NotAuthenticated()
    return session
