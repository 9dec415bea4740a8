"""Whatever a client sends, the answer is a clear problem+json, never a 500."""

import json

import pytest

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("post", "/api/v1/challenges"),
    ("post", "/api/v1/sessions"),
    ("post", "/api/v1/sessions/refresh"),
    ("delete", "/api/v1/sessions/current"),
    ("post", "/api/v1/persons/lookup"),
    ("post", "/api/v1/persons"),
]
BODIES = [
    "[]",
    "null",
    "42",
    '"a string"',
    '{"email": null, "phone": null}',
    '{"email": ["a@example.com"]}',
    '{"email": {"$ne": 1}}',
    '{"email": "a@example.com", "phone": 123456789012345678901234567890}',
    '{"email": "\\u0000@example.com", "full_name": "\\u0000"}',
    '{"email": "' + "a" * 5000 + '@example.com"}',
    '{"altcha": 1e999, "refresh": true, "device_id": ["x"]}',
    '{"altcha": "' + "%" * 300 + '", "recaptcha_token": {}}',
    '{"refresh": "eyJhbGciOiJub25lIn0.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9."}',
    '{"email": "\\ud800@example.com"}',
    "\xff\xfe not utf-8",
]


@pytest.fixture
def credentials(make_api_key, make_session):
    key, raw = make_api_key()
    issued = make_session(key)
    return {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {issued.access}"}


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("body", BODIES)
def test_hostile_bodies_get_problem_json(client, credentials, method, path, body):
    client.raise_request_exception = False
    response = getattr(client, method)(
        path, data=body.encode("utf-8", "surrogatepass"), content_type="application/json",
        **credentials,
    )  # fmt: skip
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
        assert json.loads(response.content)["code"]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_API_KEY": "gh_pub_ünïcödé"},
        {"HTTP_X_API_KEY": "x" * 10_000},
        {"HTTP_X_API_KEY": "gh_pub_" + "A" * 12 + "_" + "B" * 32 + "_" + "C" * 6},
        {"HTTP_AUTHORIZATION": "Bearer " + "a.b.c" * 1000},
        {"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"},
        {"HTTP_ORIGIN": "null", "HTTP_X_DEVICE_ID": "\u202e" * 10},
        {"HTTP_IDEMPOTENCY_KEY": "\x00" * 10},
        {"REMOTE_ADDR": "not-an-ip"},
    ],
)
def test_hostile_headers_get_problem_json(client, credentials, method, path, headers):
    client.raise_request_exception = False
    response = getattr(client, method)(
        path, data="{}", content_type="application/json", **{**credentials, **headers}
    )
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"


def test_a_nul_in_the_user_agent_does_not_break_session_creation(client, make_api_key):
    # PostgreSQL refuses NUL characters in text columns.
    _, raw = make_api_key(required_verifications=[])
    client.raise_request_exception = False
    response = client.post(
        "/api/v1/sessions",
        data="{}",
        content_type="application/json",
        HTTP_X_API_KEY=raw,
        HTTP_USER_AGENT="bot\x00/1.0",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize(
    "headers, query",
    [
        ({"HTTP_ORIGIN": "https://evil\x00.example"}, ""),  # recorded in origin_not_allowed
        ({}, "?k%00ey=gh_pub_x"),  # recorded in api_key_in_query
    ],
)
def test_a_nul_quoted_in_an_event_does_not_lose_the_event(client, make_api_key, headers, query):
    from protection.core.events import SecurityEvent

    _, raw = make_api_key()
    client.raise_request_exception = False
    response = client.post("/api/v1/challenges" + query, HTTP_X_API_KEY=raw, **headers)
    assert response.status_code == 403, response.content
    event = SecurityEvent.objects.get(decision="deny")
    assert "\x00" not in json.dumps(event.details)
