"""Probes for load balancers and orchestrators.

- ``GET /api/v1/health/live``: liveness. 200 while the process can answer;
  touches no backing service, so a database outage does not get every
  worker restarted.
- ``GET /api/v1/health/ready``: readiness. 200 when PostgreSQL (the
  database) and Redis (the shared cache) both answer; 503 problem+json
  naming the one that does not, so the balancer stops sending traffic here.
- ``GET /api/v1/health`` (``HealthView``) is the same report as readiness
  and stays for existing monitors.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from protection.errors import problem_response
from protection.http.health import health_report


class LivenessView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    # Load balancers probe from addresses that may be blocked.
    ip_blocks_apply = False

    @extend_schema(
        operation_id="get_health_live",
        summary="Liveness: the process answers (no backing service checked)",
        responses={200: inline_serializer("Liveness", {"status": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"}, headers={"Cache-Control": "no-store"})


READINESS_RESPONSES = {
    200: inline_serializer(
        "Readiness",
        {
            "status": serializers.CharField(),
            "database": serializers.CharField(),
            "cache": serializers.CharField(),
        },
    )
}


class ReadinessView(APIView):
    authentication_classes: list = []
    permission_classes: list = []
    ip_blocks_apply = False

    @extend_schema(
        operation_id="get_health_ready",
        summary="Readiness: the database and the shared cache answer",
        responses=READINESS_RESPONSES,
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        if all(status == "ok" for status in report.values()):
            return Response({"status": "ok", **report}, headers={"Cache-Control": "no-store"})
        return problem_response("service_unavailable", headers={"Retry-After": "5"}, extra=report)


class HealthView(ReadinessView):
    @extend_schema(
        operation_id="get_health",
        summary="Health of the database and the cache",
        responses=READINESS_RESPONSES,
    )
    def get(self, request: Request) -> Response:
        return super().get(request)
