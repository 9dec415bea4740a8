"""Every response carries X-Request-ID: a trusted proxy's, or one generated here."""

import re

import pytest

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.5"


@pytest.fixture
def behind_one_proxy(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "TRUSTED_PROXIES": 1,
        "TRUSTED_PROXY_NETWORKS": ["10.0.0.0/8"],
    }


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/nope", "/", "/metrics"])
def test_every_response_has_a_generated_request_id(client, path):
    first = client.get(path)
    second = client.get(path)
    assert re.fullmatch(r"[0-9a-f]{32}", first["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_a_problem_response_has_one_too(client):
    response = client.post("/api/v1/challenges", {}, format="json")
    assert response.status_code == 401
    assert response["X-Request-ID"]


def test_a_trusted_proxys_request_id_is_kept(client, behind_one_proxy):
    response = client.get(
        "/api/v1/health/live",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="198.51.100.7",
        HTTP_X_REQUEST_ID="lb-4f1c2a:77",
    )
    assert response["X-Request-ID"] == "lb-4f1c2a:77"


def test_a_clients_own_request_id_is_ignored(client, behind_one_proxy):
    # Straight from the internet: a public peer is not a proxy.
    response = client.get(
        "/api/v1/health/live", REMOTE_ADDR="198.51.100.7", HTTP_X_REQUEST_ID="forged-id"
    )
    assert response["X-Request-ID"] != "forged-id"


def test_without_declared_proxies_no_request_id_is_believed(client):
    response = client.get("/api/v1/health/live", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID="lb-1")
    assert response["X-Request-ID"] != "lb-1"


@pytest.mark.parametrize("offered", ["a" * 129, "has space", "new\nline", "é-accent", "<script>"])
def test_a_malformed_proxy_request_id_is_replaced(client, behind_one_proxy, offered):
    response = client.get("/api/v1/health/live", REMOTE_ADDR=PROXY, HTTP_X_REQUEST_ID=offered)
    assert response.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
