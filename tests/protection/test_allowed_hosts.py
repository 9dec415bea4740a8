"""A Host outside ALLOWED_HOSTS: a clear 400 host_not_allowed, one log line, no traceback."""

import logging

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/v1/persons", "/api/v1/nope", "/admin/", "/"])
def test_disallowed_host_is_a_problem_without_a_traceback(client, caplog, path):
    caplog.set_level(logging.WARNING)
    response = client.get(path, HTTP_HOST="10.0.0.5")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "host_not_allowed"
    assert "request body" not in body["detail"]
    assert not any(record.exc_info for record in caplog.records)
    messages = [record.getMessage() for record in caplog.records]
    assert "Refused a request for host '10.0.0.5' (not in ALLOWED_HOSTS)" in messages
    assert not any(r.name == "django.security.DisallowedHost" for r in caplog.records)


def test_disallowed_host_is_refused_even_with_the_https_redirect_on(client, settings, caplog):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/api/v1/persons", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.json()["code"] == "host_not_allowed"
    assert not any(record.exc_info for record in caplog.records)


def test_health_check_with_an_allowed_host_header_answers(client, settings):
    settings.ALLOWED_HOSTS = ["gatehouse.example"]
    response = client.get("/api/v1/health", HTTP_HOST="gatehouse.example")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.parametrize(
    "path", ["/api/v1/health", "/api/v1/health/live", "/api/v1/health/ready", "/metrics"]
)
def test_a_probe_by_the_pods_address_is_answered(client, settings, caplog, path):
    # Kubernetes probes and Prometheus scrapes send the pod's address as Host.
    settings.ALLOWED_HOSTS = ["gatehouse.example"]
    settings.SECURE_SSL_REDIRECT = True  # exempt for probes, and no host check through it
    caplog.set_level(logging.WARNING)
    response = client.get(path, HTTP_HOST="192.0.2.21:8000", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200, response.content
    assert not any("host" in record.getMessage().lower() for record in caplog.records)


def test_a_probe_path_does_not_open_the_api_to_any_host(client, settings):
    settings.ALLOWED_HOSTS = ["gatehouse.example"]
    for path in ("/api/v1/health/nope", "/api/v1/challenges", "/metrics/x"):
        response = client.post(path, HTTP_HOST="192.0.2.21:8000")
        assert response.json()["code"] == "host_not_allowed", path
