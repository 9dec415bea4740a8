"""The caller of an authenticated request, typed: ``request_caller(request)``.

DRF types ``request.auth`` as anything a class may put there; views behind
gatehouse's authentication classes read the ``Caller`` (API key, and session
on session endpoints) through this, so a view mounted without them fails
with a clear 401 instead of an AttributeError (a 500).
"""

from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from protection.http.context import Caller


def request_caller(request: Request) -> Caller:
    """Return the ``Caller`` the authentication class set on ``request.auth``."""
    caller = request.auth
    if not isinstance(caller, Caller):
        raise NotAuthenticated()
    return caller
