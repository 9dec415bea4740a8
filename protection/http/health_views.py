"""Probes for load balancers and orchestrators.

- ``GET /api/v1/health/live``: liveness. 200 while the process can answer;
  touches no backing service, so a database outage does not get every
  worker restarted.
- ``GET /api/v1/health/ready``: readiness. 503 problem+json naming the
  failing service when this instance cannot serve: the database is down, or
  the shared cache (Redis) is down and ``RATE_LIMIT_CACHE_FAILURE`` is
  ``closed`` (requests would be refused). With ``local`` (the default) the
  API keeps serving on per-process counters while Redis is down, so the
  instance stays ready (200, ``"status": "degraded"``): a Redis blip must
  not pull every pod out of the balancer at once.
- ``GET /api/v1/health`` (``HealthView``) is the same report as readiness
  and stays for existing monitors.

All three are probe views (``protection.http.probes``): any Host, and never
refused by an IP block.
"""

from django.http import JsonResponse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from protection.errors import problem_response
from protection.http.health import health_report, health_status

NO_STORE = {"Cache-Control": "no-store"}


class LivenessView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    # Load balancers probe from addresses that may be blocked, by the pod's address.
    ip_blocks_apply = False
    probe_view = True

    @extend_schema(
        operation_id="get_health_live",
        summary="Liveness: the process answers (no backing service checked)",
        responses={200: inline_serializer("Liveness", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"}, headers=NO_STORE)


READINESS_RESPONSES = {
    200: inline_serializer(
        "Readiness",
        {
            "status": serializers.ChoiceField(choices=["ok", "degraded"]),
            "database": serializers.CharField(),
            "cache": serializers.CharField(),
        },
    )
}


class ReadinessView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    ip_blocks_apply = False
    probe_view = True

    @extend_schema(
        operation_id="get_health_ready",
        summary="Readiness: this instance can serve (database up; cache up, or not needed)",
        responses=READINESS_RESPONSES,
    )
    def get(self, request: Request) -> Response | JsonResponse:
        report = health_report()
        status = health_status(report)
        if status is None:
            return problem_response(
                "service_unavailable", headers={"Retry-After": "5", **NO_STORE}, extra=report
            )
        return Response({"status": status, **report}, headers=NO_STORE)


class HealthView(ReadinessView):
    @extend_schema(
        operation_id="get_health",
        summary="Health of the database and the cache",
        responses=READINESS_RESPONSES,
    )
    def get(self, request: Request) -> Response | JsonResponse:
        return super().get(request)
