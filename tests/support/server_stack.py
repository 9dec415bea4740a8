"""The stack a Django team would assemble instead of gatehouse (bench row "stack").

``POST /api/test/stack-lookup`` makes the query of ``POST /api/v1/persons/lookup``
behind off-the-shelf pieces, each used the way its documentation shows:

- djangorestframework-api-key's ``HasAPIKey``: the key in ``X-Api-Key``
  (``API_KEY_CUSTOM_HEADER``, so it does not fight the JWT over
  ``Authorization``), one indexed query and a SHA-512 per request;
- simplejwt's ``JWTStatelessUserAuthentication``: ``Authorization: Bearer``,
  signature and expiry checked, no database; ``IsAuthenticated`` makes the
  token required rather than optional;
- three DRF throttles on Django's cache (Redis when ``REDIS_URL`` is set):
  per client IP, per token subject (the ``user_id`` claim) and per scope.

The rates come from ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]`` in
``tests.support.server_settings``. Served only by the bench / test server: this module
imports djangorestframework-api-key, a test extra, and lives outside
``protection`` and ``signup`` on purpose.
"""

from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle, UserRateThrottle
from rest_framework.views import APIView
from rest_framework_api_key.permissions import HasAPIKey
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication

from signup.persons import Person


class StackIpThrottle(SimpleRateThrottle):
    """Per client IP, token or not (DRF's AnonRateThrottle skips authenticated requests)."""

    scope = "stack_ip"

    def get_cache_key(self, request: Request, view: APIView) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class StackSubjectThrottle(UserRateThrottle):
    """Per token subject: ``request.user.pk`` of simplejwt's TokenUser is the ``user_id`` claim."""

    scope = "stack_subject"


class StackLookupView(APIView):
    authentication_classes = [JWTStatelessUserAuthentication]
    permission_classes = [HasAPIKey, IsAuthenticated]
    throttle_classes = [StackIpThrottle, StackSubjectThrottle, ScopedRateThrottle]
    throttle_scope = "stack_lookup"

    def post(self, request: Request) -> Response:
        email = str(request.data.get("email", "")).strip().lower()
        return Response({"exists": Person.objects.filter(email=email).exists()})
