"""The OpenAPI document and its browsable docs are served by this server, no CDN."""

import re

import pytest

from tests.support.schema import schema_document

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_and_lists_the_health_endpoint(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/health" in document["paths"]


def test_docs_page_loads_its_assets_from_this_server(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui" in asset for asset in assets)
    for asset in assets:
        assert not asset.startswith(("http://", "https://", "//")), asset


def test_swagger_ui_assets_are_served_with_debug_off(client, settings):
    settings.DEBUG = False
    html = client.get("/api/docs/").content.decode()
    bundle = next(a for a in re.findall(r'src="([^"]+)"', html) if "bundle" in a)
    response = client.get(bundle)
    assert response.status_code == 200


def test_schema_generates_and_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/persons/lookup" in target.read_text()


# --- The document is the truth (issue 12). The server-side halves of these
# --- cases were found by tests/system/test_schemathesis.py and are kept here.

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def document(django_db_blocker):
    return schema_document(django_db_blocker)


def _operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def _validator(document, name):
    import jsonschema

    return jsonschema.Draft7Validator(document["components"]["schemas"][name])


def test_one_api_key_scheme_and_a_server(document):
    schemes = document["components"]["securitySchemes"]
    assert sorted(schemes) == [
        "ApiKeyAuth",
        "PrivateTokenAuth",
        "SessionBearerAuth",
        "SessionDPoPAuth",
    ]
    assert schemes["ApiKeyAuth"] == {**schemes["ApiKeyAuth"], "in": "header", "name": "X-Api-Key"}
    assert document["servers"] and document["servers"][0]["url"]


def test_operation_ids_and_tags_are_consistent(document):
    ids = {(path, method): op["operationId"] for path, method, op in _operations(document)}
    assert ids == {
        ("/api/v1/health", "get"): "get_health",
        ("/api/v1/health/live", "get"): "get_health_live",
        ("/api/v1/health/ready", "get"): "get_health_ready",
        ("/api/v1/challenges", "post"): "create_challenge",
        ("/api/v1/sessions", "post"): "create_session",
        ("/api/v1/sessions/refresh", "post"): "refresh_session",
        ("/api/v1/sessions/current", "delete"): "delete_current_session",
        ("/api/v1/persons/lookup", "post"): "find_person",
        ("/api/v1/persons", "post"): "create_person",
        ("/api/v1/persons/confirm", "post"): "confirm_person",
    }
    for path, _method, operation in _operations(document):
        assert operation["tags"] == [path.split("/")[3]]


def test_every_operation_documents_the_errors_any_request_can_meet(document):
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        for status in ("400", "403", "404", "405", "406", "413", "503"):
            assert PROBLEM in responses[status]["content"], (path, method, status)
        if method == "post":  # a JSON body: malformed (400) or not JSON at all (415)
            assert "415" in responses, (path, method)


def test_problem_codes_are_the_catalogue(document):
    from protection.base.exceptions import ERROR_CATALOGUE

    problem = document["components"]["schemas"]["Problem"]
    code = problem["properties"]["code"]
    if "allOf" in code:  # drf-spectacular moves enums into their own component
        code = document["components"]["schemas"][code["allOf"][0]["$ref"].split("/")[-1]]
    enum = code["enum"]
    assert set(enum) == set(ERROR_CATALOGUE)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/challenges", "post"),
        ("/api/v1/sessions", "post"),
        ("/api/v1/sessions/refresh", "post"),
        ("/api/v1/sessions/current", "delete"),
    ],
)
def test_rate_limit_and_auth_headers_are_described(document, path, method):
    responses = document["paths"][path][method]["responses"]
    assert responses["429"]["headers"]["Retry-After"]["required"] is True
    for status in responses:
        assert {"RateLimit", "RateLimit-Policy"} <= set(responses[status].get("headers", {}))
    assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True


def test_tokens_and_challenges_are_described_no_store(document):
    for path, status in [
        ("/api/v1/challenges", "201"),
        ("/api/v1/sessions", "201"),
        ("/api/v1/sessions/refresh", "200"),
    ]:
        headers = document["paths"][path]["post"]["responses"][status]["headers"]
        assert headers["Cache-Control"]["required"] is True


def test_health_documents_its_503(document):
    responses = document["paths"]["/api/v1/health"]["get"]["responses"]
    assert "Retry-After" in responses["503"]["headers"]
    assert "401" not in responses  # no credentials on health


def test_device_id_header_is_described_with_the_servers_pattern(document):
    parameters = document["paths"]["/api/v1/sessions"]["post"]["parameters"]
    device = next(p for p in parameters if p["name"] == "X-Device-Id")
    assert device["in"] == "header" and device["schema"]["pattern"]


def test_session_body_refuses_unknown_fields_in_schema_and_server(document, client, api_key):
    _, raw = api_key
    validator = _validator(document, "SessionCreateRequest")
    assert not validator.is_valid({"altcha": "x", "nonce": "1"})
    response = client.post(
        "/api/v1/sessions", {"altcha": "x", "nonce": "1"}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "nonce", "code": "unknown", "detail": "Unknown field."}
    ]


def test_refresh_body_refuses_unknown_fields(document, client, api_key):
    _, raw = api_key
    assert not _validator(document, "SessionRefreshRequest").is_valid({"refresh": "a", "b": 1})
    response = client.post(
        "/api/v1/sessions/refresh", {"refresh": "a", "b": 1}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "b"


def test_blank_device_id_is_valid_for_schema_and_server(document, client, api_key):
    """Found by schemathesis: "" matched both branches of the field's oneOf."""
    _, raw = api_key
    assert _validator(document, "SessionCreateRequest").is_valid({"device_id": ""})
    response = client.post("/api/v1/sessions", {"device_id": ""}, format="json", HTTP_X_API_KEY=raw)
    assert response.status_code == 403  # past validation: no proof of work
    assert response.json()["code"] == "challenge_failed"


def test_refused_refresh_token_names_a_scheme(client, api_key):
    """Found by schemathesis: a 401 from the body's refresh token had no WWW-Authenticate."""
    _, raw = api_key
    response = client.post(
        "/api/v1/sessions/refresh", {"refresh": "x.y.z"}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"]


def test_padded_refresh_token_is_an_invalid_token_not_a_blank_field(document, client, api_key):
    """Found by schemathesis: " " passed the schema (minLength 1) but was trimmed to blank."""
    _, raw = api_key
    assert _validator(document, "SessionRefreshRequest").is_valid({"refresh": " "})
    response = client.post(
        "/api/v1/sessions/refresh", {"refresh": " "}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_nul_characters_are_refused_by_schema_and_server(document, client, api_key):
    """Found by schemathesis: DRF refuses NUL in every CharField; the schema now says so."""
    _, raw = api_key
    assert not _validator(document, "SessionRefreshRequest").is_valid({"refresh": "a\x00b"})
    response = client.post(
        "/api/v1/sessions/refresh", {"refresh": "a\x00b"}, format="json", HTTP_X_API_KEY=raw
    )
    assert response.status_code == 400


def test_oversized_body_is_413_on_every_operation(document, client, settings):
    """Found by schemathesis: 4096 characters can be 24 KiB on the wire, over the body cap."""
    for path, method, operation in _operations(document):
        assert "413" in operation["responses"], (path, method)
    body = '{"altcha": "' + "\\udb5c\\udf44" * 2000 + '"}'
    response = client.post("/api/v1/sessions", body, content_type="application/json")
    assert response.status_code == 413
    assert response["Content-Type"] == PROBLEM


# --- Attestation and DPoP (issue 13) -----------------------------------------

SESSION_OPERATIONS = [
    ("/api/v1/persons/lookup", "post"),
    ("/api/v1/persons", "post"),
    ("/api/v1/persons/confirm", "post"),
    ("/api/v1/sessions/current", "delete"),
]
ATTESTATION_HEADERS = {
    "Approov-Token",
    "X-Firebase-AppCheck",
    "X-Apple-AppAttest-KeyId",
    "X-Apple-AppAttest-Assertion",
    "X-Apple-AppAttest-ClientData",
}
DPOP_CODES = {
    "dpop_required",
    "dpop_proof_invalid",
    "dpop_replayed",
    "dpop_binding_mismatch",
    "dpop_nonce_required",
}
ATTESTATION_CODES = {"attestation_required", "attestation_invalid", "attestation_replayed"}


def _headers(operation):
    return {p["name"]: p for p in operation.get("parameters", []) if p["in"] == "header"}


def _codes(response):
    return set(re.findall(r"- `([a-z_]+)`", response["description"]))


def test_the_dpop_scheme_is_an_alternative_to_bearer(document):
    scheme = document["components"]["securitySchemes"]["SessionDPoPAuth"]
    assert scheme["type"] == "apiKey" and scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    for path, method in SESSION_OPERATIONS:
        security = document["paths"][path][method]["security"]
        assert security == [
            {"ApiKeyAuth": [], "SessionBearerAuth": []},
            {"ApiKeyAuth": [], "SessionDPoPAuth": []},
        ]
    for path in ("/api/v1/sessions/refresh", "/api/v1/challenges"):
        assert document["paths"][path]["post"]["security"] == [{"ApiKeyAuth": []}]
    # Session start: the key, or the key and a Private Access Token (RFC 9577).
    assert document["paths"]["/api/v1/sessions"]["post"]["security"] == [
        {"ApiKeyAuth": []},
        {"ApiKeyAuth": [], "PrivateTokenAuth": []},
    ]


@pytest.mark.parametrize(
    ("path", "method"),
    [*SESSION_OPERATIONS, ("/api/v1/sessions", "post"), ("/api/v1/sessions/refresh", "post")],
)
def test_dpop_proofs_are_described_where_the_server_reads_them(document, path, method):
    operation = document["paths"][path][method]
    proof = _headers(operation)["DPoP"]
    assert not proof.get("required") and proof["schema"] == {"type": "string"}
    responses = operation["responses"]
    assert DPOP_CODES <= _codes(responses["401"])
    assert "DPoP-Nonce" in responses["401"]["headers"]
    assert "DPoP" in responses["401"]["headers"]["WWW-Authenticate"]["description"]


def test_no_dpop_where_the_server_ignores_it(document):
    operation = document["paths"]["/api/v1/challenges"]["post"]
    assert "DPoP" not in _headers(operation)
    assert not DPOP_CODES & _codes(operation["responses"]["401"])
    assert "DPoP-Nonce" not in operation["responses"]["401"]["headers"]


def test_attestation_headers_follow_the_classes_and_views(document):
    for path in ("/api/v1/persons/lookup", "/api/v1/persons", "/api/v1/persons/confirm"):
        operation = document["paths"][path]["post"]
        headers = set(_headers(operation))
        assert ATTESTATION_HEADERS <= headers  # HasAppAttestation
        assert "X-Apple-AppAttest-Attestation" not in headers  # session start only
        assert ATTESTATION_CODES <= _codes(operation["responses"]["403"])
        assert "attestation_unavailable" in _codes(operation["responses"]["503"])
    session = document["paths"]["/api/v1/sessions"]["post"]
    assert ATTESTATION_HEADERS | {"X-Apple-AppAttest-Attestation"} <= set(_headers(session))
    assert ATTESTATION_CODES <= _codes(session["responses"]["403"])
    for path, method in [
        ("/api/v1/sessions/refresh", "post"),
        ("/api/v1/sessions/current", "delete"),
    ]:
        assert not ATTESTATION_HEADERS & set(_headers(document["paths"][path][method]))


def test_attestation_header_names_come_from_settings(settings):
    from drf_spectacular.generators import SchemaGenerator

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "APPROOV_HEADER": "X-Approov",
        "APPCHECK_HEADER": "X-AppCheck",
    }
    document = SchemaGenerator().get_schema(request=None, public=True)
    headers = _headers(document["paths"]["/api/v1/persons/lookup"]["post"])
    assert {"X-Approov", "X-AppCheck"} <= set(headers)
    assert "Approov-Token" not in headers


def test_token_type_and_app_attest_challenge_are_described(document):
    schemas = document["components"]["schemas"]
    token_type = schemas["SessionTokens"]["properties"]["token_type"]
    enum = schemas[token_type["allOf"][0]["$ref"].split("/")[-1]]["enum"]
    assert enum == ["Bearer", "DPoP"]
    challenge = schemas["Challenge"]["properties"]
    assert "app_attest_challenge" in challenge
    assert "app_attest_challenge" not in schemas["Challenge"]["required"]


# The server halves: what the document says about DPoP is what the server does.

DPOP_BASE = "https://signup-api.example.com"


@pytest.fixture
def dpop_server(settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "PUBLIC_BASE_URL": DPOP_BASE}


def test_an_unbound_bearer_session_ignores_the_dpop_header(document, client, api_key, make_session):
    """Why the DPoP parameter has no pattern: with a Bearer token the server does
    not read it, so it cannot refuse every value that is not a JWS."""
    key, raw = api_key
    proof = _headers(document["paths"]["/api/v1/persons/lookup"]["post"])["DPoP"]
    assert "pattern" not in proof["schema"]
    access = make_session(key).access
    response = client.post(
        "/api/v1/persons/lookup",
        {"email": "ada@example.com"},
        format="json",
        HTTP_X_API_KEY=raw,
        HTTP_AUTHORIZATION=f"Bearer {access}",
        HTTP_DPOP="not a proof",
    )
    assert response.status_code == 200


def test_a_refused_session_proof_is_a_documented_401(document, client, make_api_key, dpop_server):
    _, raw = make_api_key(required_verifications=["dpop"])
    responses = document["paths"]["/api/v1/sessions"]["post"]["responses"]
    for proof, code in [(None, "dpop_required"), ("not a proof", "dpop_proof_invalid")]:
        headers = {"HTTP_X_API_KEY": raw, **({"HTTP_DPOP": proof} if proof else {})}
        response = client.post("/api/v1/sessions", {}, format="json", **headers)
        assert response.status_code == 401 and response.json()["code"] == code
        assert code in _codes(responses["401"])
        assert response["WWW-Authenticate"].startswith("DPoP ")


def test_the_nonce_refusal_carries_the_documented_dpop_nonce_header(
    document, client, make_api_key, settings, dpop_server
):
    from tests.support.dpop import DpopClient

    settings.GATEHOUSE = {**settings.GATEHOUSE, "DPOP_NONCE_REQUIRED": True}
    _, raw = make_api_key(required_verifications=["dpop"])
    proof = DpopClient().proof(url=DPOP_BASE + "/api/v1/sessions")  # no nonce
    response = client.post(
        "/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, HTTP_DPOP=proof
    )
    assert response.status_code == 401 and response.json()["code"] == "dpop_nonce_required"
    documented = document["paths"]["/api/v1/sessions"]["post"]["responses"]["401"]["headers"]
    assert response["DPoP-Nonce"] and "DPoP-Nonce" in documented
    assert 'error="use_dpop_nonce"' in response["WWW-Authenticate"]


def test_a_bound_session_answers_the_documented_token_type(
    document, client, make_api_key, dpop_server
):
    from tests.support.dpop import DpopClient

    _, raw = make_api_key(required_verifications=["dpop"])
    proof = DpopClient().proof(url=DPOP_BASE + "/api/v1/sessions")
    response = client.post(
        "/api/v1/sessions", {}, format="json", HTTP_X_API_KEY=raw, HTTP_DPOP=proof
    )
    assert response.status_code == 201
    schemas = document["components"]["schemas"]
    token_type = schemas["SessionTokens"]["properties"]["token_type"]
    assert (
        response.json()["token_type"]
        in schemas[token_type["allOf"][0]["$ref"].split("/")[-1]]["enum"]
    )
