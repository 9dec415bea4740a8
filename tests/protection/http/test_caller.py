"""request_caller: the typed caller of an authenticated request."""

import pytest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from protection.authentication import SessionTokenAuthentication
from protection.http.caller import request_caller

pytestmark = pytest.mark.django_db


def test_the_caller_of_an_authenticated_request(api_key, make_session):
    key, raw = api_key
    issued = make_session(key)
    request = Request(
        APIRequestFactory().get(
            "/", HTTP_X_API_KEY=raw, HTTP_AUTHORIZATION=f"Bearer {issued.access}"
        ),
        authenticators=[SessionTokenAuthentication()],
    )
    caller = request_caller(request)
    assert (caller.api_key, caller.session.id) == (key, issued.session.pk)


def test_a_view_without_gatehouse_authentication_is_a_401_not_a_crash():
    request = Request(APIRequestFactory().get("/"), authenticators=[])
    with pytest.raises(NotAuthenticated):
        request_caller(request)


def test_the_session_of_a_key_only_caller_is_a_401(api_key):
    from protection.http.caller import request_session
    from protection.http.context import Caller

    key, _ = api_key
    request = Request(APIRequestFactory().get("/"), authenticators=[])
    request._authenticator, request.user, request.auth = None, None, Caller(api_key=key)
    with pytest.raises(NotAuthenticated):
        request_session(request)
