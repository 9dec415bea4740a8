"""The OpenAPI document describes both endpoints, their bodies and every error code."""

import pytest

from protection.base.exceptions import ERROR_CATALOGUE
from tests.support.schema import schema_document

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    return schema_document(django_db_blocker)


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
                "phone_not_allowed",
                "phone_country_not_allowed",
            ],
        ),
        (
            "/api/v1/persons/confirm",
            [
                "invalid_request",
                "verification_code_invalid",
                "verification_expired",
                "conflict",
                "idempotency_conflict",
                "rate_limited",
                "scope_denied",
                "token_missing",
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


# --- Request schemas accept exactly what the server accepts (issue 12) -----


def _json_schema(node):
    """OpenAPI 3.0's ``nullable`` as plain JSON Schema, so jsonschema can judge it."""
    if isinstance(node, dict):
        node = {key: _json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False):
            return {"anyOf": [node, {"type": "null"}]}
    elif isinstance(node, list):
        return [_json_schema(item) for item in node]
    return node


def _validator(schema, name):
    import jsonschema

    return jsonschema.Draft7Validator(_json_schema(schema["components"]["schemas"][name]))


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"email": "ada@example.com"}, True),
        ({"phone": "+12015550123"}, True),
        ({"email": "ada@example.com", "phone": "+12015550123"}, False),
        ({}, False),
        ({"email": "ada@example.com", "name": "Ada"}, False),
        ({"email": ""}, False),
    ],
)
def test_lookup_schema_and_server_agree_on_the_shape(schema, caller, body, valid):
    assert _validator(schema, "PersonLookupRequest").is_valid(body) is valid
    response = caller.lookup(body)
    assert (response.status_code == 200) is valid, response.content


def test_lookup_needs_a_body(schema, caller):
    """Found by schemathesis: the body was optional in the document, required by the server."""
    assert schema["paths"]["/api/v1/persons/lookup"]["post"]["requestBody"]["required"] is True
    response = caller.client.post("/api/v1/persons/lookup", **caller.headers())
    assert response.status_code == 400


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"email": "ada@example.com", "full_name": "Ada Lovelace"}, True),
        ({"email": "ada@example.com", "full_name": "Ada Lovelace", "phone": None}, True),
        ({"email": "ada@example.com", "full_name": "Ada Lovelace", "phone": ""}, True),
        ({"email": "ada@example.com"}, False),
        ({"email": "ada@example.com", "full_name": "Ada", "nickname": "x"}, False),
        ({"email": "ada@example.com", "full_name": "Ada\x00Lovelace"}, False),
    ],
)
def test_create_schema_and_server_agree_on_the_shape(schema, make_caller, body, valid):
    assert _validator(schema, "PersonCreateRequest").is_valid(body) is valid
    response = make_caller().create(body)
    assert (response.status_code == 201) is valid, response.content


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"email": "ada@example.com", "code": "123456"}, True),
        ({"phone": "+12015550123", "code": "123456"}, True),
        ({"token": "opaque"}, True),
        ({"email": "ada@example.com"}, False),
        ({"code": "123456"}, False),
        ({"email": "ada@example.com", "phone": "+12015550123", "code": "123456"}, False),
        ({"email": "ada@example.com", "code": "123456", "token": "opaque"}, False),
        ({"token": "opaque", "code": "123456"}, False),
        ({"email": "ada@example.com", "code": "12345a"}, False),
        ({"email": "ada@example.com", "code": "1234567"}, False),
        ({}, False),
    ],
)
def test_confirm_schema_and_server_agree_on_the_shape(schema, caller, body, valid):
    """A well-formed confirm matching nothing pending is 400 verification_expired; a
    malformed one 400 invalid_request: the document's oneOf says which is which."""
    assert _validator(schema, "PersonConfirmRequest").is_valid(body) is valid
    response = caller.confirm(body)
    assert response.status_code == 400
    assert (response.json()["code"] == "verification_expired") is valid, response.content


@pytest.mark.parametrize(
    ("key", "valid"),
    [("retry-1", True), ("x" * 255, True), ("", False), ("x" * 256, False), ("a b", False)],
)
def test_idempotency_key_schema_and_server_agree(schema, make_caller, key, valid):
    import jsonschema

    operation = schema["paths"]["/api/v1/persons"]["post"]
    header = next(p for p in operation["parameters"] if p["name"] == "Idempotency-Key")
    assert jsonschema.Draft7Validator(header["schema"]).is_valid(key) is valid
    body = {"email": "ada@example.com", "full_name": "Ada Lovelace"}
    response = make_caller().create(body, idempotency_key=key)
    assert (response.status_code == 201) is valid, response.content


def test_create_documents_replays_and_its_domain_errors(schema):
    responses = schema["paths"]["/api/v1/persons"]["post"]["responses"]
    assert "Idempotent-Replayed" in responses["201"]["headers"]
    assert "409" in responses and "422" in responses
    assert responses["429"]["headers"]["Retry-After"]["required"] is True


def test_verification_is_documented(schema):
    create = schema["paths"]["/api/v1/persons"]["post"]
    pending = create["responses"]["202"]["content"]["application/json"]["schema"]
    assert pending == {"$ref": "#/components/schemas/PendingSignup"}
    component = schema["components"]["schemas"]["PendingSignup"]
    assert set(component["properties"]) == {"status", "channel", "expires_in"}
    assert "Idempotent-Replayed" in create["responses"]["202"]["headers"]
    confirm = schema["paths"]["/api/v1/persons/confirm"]["post"]
    assert confirm["operationId"] == "confirm_person" and confirm["tags"] == ["persons"]
    body = schema["components"]["schemas"]["PersonConfirmRequest"]
    assert set(body["properties"]) == {"email", "phone", "code", "token"}
    assert body["additionalProperties"] is False
    person = confirm["responses"]["201"]["content"]["application/json"]["schema"]
    assert person == {"$ref": "#/components/schemas/Person"}
    assert {"Idempotency-Key"} <= {p["name"] for p in confirm["parameters"] if p["in"] == "header"}
