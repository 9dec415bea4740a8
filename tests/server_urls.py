"""Test-only endpoints served by real gunicorn workers (concurrency proof, bench).

- ``POST /api/test/proof``: limited by this project's limiter (group "proof",
  100/hour per IP), does one query;
- ``POST /api/test/drf-proof``: the same behind DRF's ``AnonRateThrottle``;
- ``POST /api/test/bench-protected`` / ``bench-plain``: the same query
  (``{"email": …}`` → ``{"exists": bool}``) with the full protection stack
  (key + session + scope + limits + blocks) and with none;
- ``POST /api/test/plain-lookup``: the real lookup's query without any
  protection, when the sign-up app provides ``Person``.
"""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.authentication import SessionAuthentication
from protection.events import SecurityEvent
from protection.keys import ApiKey
from protection.permissions import HasApiKeyScope


class ProofView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    rate_limit_group = "proof"

    def post(self, request: Request) -> Response:
        return Response({"exists": SecurityEvent.objects.filter(kind="proof").exists()})


class DrfProofView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes = [AnonRateThrottle]

    def post(self, request: Request) -> Response:
        return Response({"exists": SecurityEvent.objects.filter(kind="proof").exists()})


def _same_query(request: Request) -> Response:
    email = str(request.data.get("email", "")).strip().lower()
    return Response({"exists": ApiKey.objects.filter(name=email).exists()})


class BenchProtectedView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [HasApiKeyScope]
    required_scope = "lookup"
    rate_limit_group = "bench_lookup"

    def post(self, request: Request) -> Response:
        return _same_query(request)


class BenchPlainView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request: Request) -> Response:
        return _same_query(request)


class PlainLookupView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request: Request) -> Response:
        from signup.models import Person  # built on the sign-up branch

        email = str(request.data.get("email", "")).strip().lower()
        return Response({"exists": Person.objects.filter(email=email).exists()})


urlpatterns = [
    path("api/test/proof", ProofView.as_view()),
    path("api/test/drf-proof", DrfProofView.as_view()),
    path("api/test/bench-protected", BenchProtectedView.as_view()),
    path("api/test/bench-plain", BenchPlainView.as_view()),
    path("api/test/plain-lookup", PlainLookupView.as_view()),
    *project_urlpatterns,
]
