"""The OpenAPI document describes both endpoints, their bodies and every error code."""

import json

import pytest

from protection.exceptions import ERROR_CATALOGUE

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from rest_framework.test import APIClient

    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"}, secure=True)
    assert response.status_code == 200
    return json.loads(response.content)


def _problem_statuses(operation):
    return {
        status
        for status, response in operation["responses"].items()
        if "application/problem+json" in response.get("content", {})
    }


def test_lookup_is_documented(schema):
    operation = schema["paths"]["/api/v1/persons/lookup"]["post"]
    assert operation["operationId"] == "find_person"
    body = schema["components"]["schemas"]["PersonLookupRequest"]
    assert set(body["properties"]) == {"email", "phone"}
    result = schema["components"]["schemas"]["PersonLookupResult"]
    assert set(result["properties"]) == {"exists"}
    assert {"400", "401", "403", "413", "415", "429"} <= _problem_statuses(operation)
    assert {"ApiKeyAuth": [], "SessionBearerAuth": []} in operation["security"]


def test_create_is_documented(schema):
    operation = schema["paths"]["/api/v1/persons"]["post"]
    assert operation["operationId"] == "create_person"
    body = schema["components"]["schemas"]["PersonCreateRequest"]
    assert set(body["properties"]) == {"email", "full_name", "phone"}
    assert set(body["required"]) == {"email", "full_name"}
    person = schema["components"]["schemas"]["Person"]
    assert set(person["properties"]) == {"id", "email", "phone", "full_name", "created_at"}
    assert "201" in operation["responses"]
    assert {"400", "401", "403", "409", "413", "415", "422", "429"} <= _problem_statuses(operation)
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert "Idempotency-Key" in headers


@pytest.mark.parametrize(
    ("path", "codes"),
    [
        ("/api/v1/persons/lookup", ["invalid_request", "rate_limited", "scope_denied"]),
        (
            "/api/v1/persons",
            [
                "invalid_request",
                "disposable_email",
                "conflict",
                "idempotency_conflict",
                "rate_limited",
                "payload_too_large",
                "unsupported_media_type",
                "token_missing",
                "api_key_missing",
            ],
        ),
    ],
)
def test_every_error_code_is_named(schema, path, codes):
    responses = schema["paths"][path]["post"]["responses"]
    for code in codes:
        status = str(ERROR_CATALOGUE[code].status)
        assert f"`{code}`" in responses[status]["description"], (path, code)
        examples = responses[status]["content"]["application/problem+json"]["examples"]
        assert code in {example["value"]["code"] for example in examples.values()}
