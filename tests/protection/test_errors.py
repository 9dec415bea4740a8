"""Every error under /api/ is problem+json with a stable code; never HTML or a 500."""

import pytest
from django.test import override_settings
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns

pytestmark = pytest.mark.django_db


class _EchoView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def post(self, request):
        return Response({"received": request.data})


class _BrokenView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        raise RuntimeError("database password is hunter2")


urlpatterns = [
    path("api/test/echo", _EchoView.as_view()),
    path("api/test/broken", _BrokenView.as_view()),
    *project_urlpatterns,
]


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:gatehouse:problem:{code}"
    assert body["title"] and body["detail"]
    return body


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path_is_problem_json(client, settings, debug):
    settings.DEBUG = debug
    assert_problem(client.get("/api/v1/nope"), 404, "not_found")
    assert_problem(client.get("/api/"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/v1/health")
    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@override_settings(ROOT_URLCONF=__name__)
def test_malformed_json_is_400(client):
    response = client.post("/api/test/echo", data="{not json", content_type="application/json")
    assert_problem(response, 400, "malformed_json")


@override_settings(ROOT_URLCONF=__name__)
def test_wrong_content_type_is_415(client):
    response = client.post("/api/test/echo", data="a=1", content_type="text/plain")
    assert_problem(response, 415, "unsupported_media_type")


@override_settings(ROOT_URLCONF=__name__)
def test_one_mebibyte_body_is_413_before_parsing(client):
    body = '{"x": "' + "a" * (1024 * 1024) + '"}'
    response = client.post("/api/test/echo", data=body, content_type="application/json")
    problem = assert_problem(response, 413, "payload_too_large")
    assert "16384" in problem["detail"]


@override_settings(ROOT_URLCONF=__name__)
def test_body_at_the_limit_is_accepted(client):
    padding = 16 * 1024 - len('{"x": ""}')
    body = '{"x": "' + "a" * padding + '"}'
    assert len(body) == 16 * 1024
    response = client.post("/api/test/echo", data=body, content_type="application/json")
    assert response.status_code == 200


@override_settings(ROOT_URLCONF=__name__)
@pytest.mark.parametrize("debug", [False, True])
def test_unhandled_exception_is_500_without_internals(client, settings, debug):
    settings.DEBUG = debug
    client.raise_request_exception = False
    response = client.get("/api/test/broken")
    body = assert_problem(response, 500, "internal_error")
    assert "hunter2" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert set(body) == {"type", "title", "status", "detail", "code"}


def test_non_api_paths_keep_django_pages(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


class _DatabaseDownView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        from django.db import OperationalError

        raise OperationalError("could not connect to server: Connection refused")


urlpatterns.insert(0, path("api/test/database-down", _DatabaseDownView.as_view()))


@override_settings(ROOT_URLCONF=__name__)
def test_a_database_outage_is_503_not_500(client):
    client.raise_request_exception = False
    response = client.get("/api/test/database-down")
    body = assert_problem(response, 503, "service_unavailable")
    assert response["Retry-After"] == "5"
    assert "Connection refused" not in body["detail"]


def test_extension_members_never_replace_standard_ones():
    from protection.errors import problem_response

    response = problem_response("service_unavailable", extra={"status": "down", "cache": "x"})
    assert response.status_code == 503
    body = __import__("json").loads(response.content)
    assert body["status"] == 503 and body["cache"] == "x"


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unsafe_method_on_unknown_api_path_is_404_not_csrf_403(method):
    # APIClient skips CSRF; a plain client enforcing it is what a script meets.
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    response = getattr(csrf_client, method)(
        "/api/v1/nope", data="{}", content_type="application/json"
    )
    assert_problem(response, 404, "not_found")


def test_api_request_is_decided_on_the_routed_path(client):
    # SCRIPT_NAME (settable through a forwarded header) prefixes request.path
    # but not the routed path: the API's error handling must still apply.
    response = client.post(
        "/api/v1/persons/lookup", data=b"{", content_type="application/json",
        SCRIPT_NAME="/prefix",
    )  # fmt: skip
    assert_problem(response, 401, "api_key_missing")
    response = client.post(
        "/api/v1/persons", data=b"x" * (1 << 20), content_type="application/json",
        SCRIPT_NAME="/prefix",
    )  # fmt: skip
    assert_problem(response, 413, "payload_too_large")
