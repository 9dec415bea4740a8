"""HTTP views of the protection app: thin wrappers around one service call each."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from protection.errors import problem_response
from protection.health import health_report


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(
        summary="Health of the database and the cache",
        responses={
            200: inline_serializer(
                "Health",
                {
                    "status": serializers.CharField(),
                    "database": serializers.CharField(),
                    "cache": serializers.CharField(),
                },
            )
        },
    )
    def get(self, request: Request) -> Response:
        report = health_report()
        if all(status == "ok" for status in report.values()):
            return Response({"status": "ok", **report})
        return problem_response("service_unavailable", extra={"status": "unavailable", **report})
