"""One access-log line and the HTTP metrics per request; the request id on every line."""

import pytest
from prometheus_client import REGISTRY

from tests.support.jsonlogs import JsonLines

pytestmark = pytest.mark.django_db


@pytest.fixture
def json_lines():
    with JsonLines() as lines:
        yield lines


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_request_writes_one_access_line_without_query_or_body(client, json_lines):
    response = client.post(
        "/api/v1/persons/lookup?email=ada@example.com",
        {"email": "ada@example.com"},
        content_type="application/json",
        REMOTE_ADDR="203.0.113.9",
    )
    access = [r for r in json_lines.records() if r["logger"] == "gatehouse.access"]
    assert len(access) == 1, json_lines.text
    line = access[0]
    assert (line["http_method"], line["route"], line["status"]) == (
        "POST",
        "api/v1/persons/lookup",
        response.status_code,
    )
    assert line["request_id"] == response["X-Request-ID"]
    assert line["client_ip"] == "203.0.113.9"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO"
    assert "ada" not in json_lines.text  # neither the query string nor the body


def test_an_unmatched_path_is_logged_without_its_path(client, json_lines):
    client.get("/no/such/page/ada@example.com")
    access = [r for r in json_lines.records() if r["logger"] == "gatehouse.access"]
    assert [(r["route"], r["status"]) for r in access] == [("", 404)]
    assert "ada@example.com" not in "".join(r["message"] for r in access)


def test_djangos_own_request_lines_carry_the_request_id(client, json_lines):
    # "Not Found: /x" is written by Django once every middleware has returned.
    response = client.get("/no/such/page")
    request_lines = [r for r in json_lines.records() if r["logger"] == "django.request"]
    assert request_lines, json_lines.text
    assert {r["request_id"] for r in request_lines} == {response["X-Request-ID"]}
    unauthorized = client.post("/api/v1/challenges", REMOTE_ADDR="203.0.113.9")
    line = [r for r in json_lines.records() if r["logger"] == "django.request"][-1]
    assert (line["request_id"], line["client_ip"]) == (
        unauthorized["X-Request-ID"],
        "203.0.113.9",
    )


def test_http_metrics_count_by_route_never_by_raw_path(client):
    labels = {"method": "GET", "route": "api/v1/health/live", "status": "200"}
    before = value("gatehouse_http_requests_total", **labels)
    seconds_before = value(
        "gatehouse_http_request_duration_seconds_count", method="GET", route="api/v1/health/live"
    )
    client.get("/api/v1/health/live")
    client.get("/api/v1/health/live?probe=1")
    assert value("gatehouse_http_requests_total", **labels) == before + 2
    assert (
        value(
            "gatehouse_http_request_duration_seconds_count",
            method="GET",
            route="api/v1/health/live",
        )
        == seconds_before + 2
    )
    client.get("/scan/wp-login.php")
    client.get("/scan/.env")
    text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'route="unmatched",status="404"' in text
    assert "wp-login" not in text and ".env" not in text and "probe=1" not in text


def test_an_unknown_method_is_one_label(client):
    labels = {"method": "other", "route": "api/v1/health/live", "status": "405"}
    before = value("gatehouse_http_requests_total", **labels)
    assert client.generic("BREW", "/api/v1/health/live").status_code == 405
    assert client.generic("X" * 200, "/api/v1/health/live").status_code == 405
    assert value("gatehouse_http_requests_total", **labels) == before + 2
    names = {
        sample.labels.get("method")
        for metric in REGISTRY.collect()
        if metric.name == "gatehouse_http_requests"
        for sample in metric.samples
    }
    assert "BREW" not in names
