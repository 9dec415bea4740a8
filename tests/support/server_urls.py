"""Test-only endpoints served by real gunicorn workers (concurrency proof, bench).

- ``POST /api/test/proof``: limited by this project's limiter (group "proof",
  100/hour per IP), does one query;
- ``POST /api/test/drf-proof``: the same behind DRF's ``AnonRateThrottle``;
- ``POST /api/test/plain-lookup``: the query of ``POST /api/v1/persons/lookup``
  in a DRF view without any protection;
- ``POST /api/test/floor-lookup``: the same plus one counter in Redis, the
  least any shared-counter limiter adds (a reference point for the bench);
- ``POST /api/test/dpop``: verifies the ``DPoP`` header as a proof for this
  request and answers 200 with the worker's pid and the outcome (the jkt or
  the refusal's code), so a test sees which worker refused a replay.
- ``POST /api/test/stack-lookup``: the same query behind the stack a Django
  team would assemble instead (``tests.support.server_stack``).
"""

import os

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from protection.base.exceptions import ProtectionError
from protection.core.events import SecurityEvent
from protection.core.ratelimit import rate_limit_hit
from protection.dpop import dpop_proof_verify
from signup.persons import Person
from tests.support.server_stack import StackLookupView


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


class PlainLookupView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []

    def post(self, request: Request) -> Response:
        email = str(request.data.get("email", "")).strip().lower()
        return Response({"exists": Person.objects.filter(email=email).exists()})


class FloorLookupView(PlainLookupView):
    """The plain lookup plus one counter in Redis: the least a shared limiter adds."""

    def post(self, request: Request) -> Response:
        rate_limit_hit(group="bench_floor", ident="one", rate="100000000/m")
        return super().post(request)


class DpopProofView(PlainLookupView):
    def post(self, request: Request) -> Response:
        try:
            jkt = dpop_proof_verify(
                proof=request.headers.get("DPoP", ""), method=request.method, url=request.path
            )
        except ProtectionError as exc:
            return Response({"pid": os.getpid(), "code": exc.code})
        return Response({"pid": os.getpid(), "code": "accepted", "jkt": jkt})


urlpatterns = [
    path("api/test/proof", ProofView.as_view()),
    path("api/test/drf-proof", DrfProofView.as_view()),
    path("api/test/plain-lookup", PlainLookupView.as_view()),
    path("api/test/floor-lookup", FloorLookupView.as_view()),
    path("api/test/dpop", DpopProofView.as_view()),
    path("api/test/stack-lookup", StackLookupView.as_view()),
    *project_urlpatterns,
]
