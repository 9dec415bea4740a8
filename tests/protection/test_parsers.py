"""Hostile JSON is a 400 problem+json before DRF builds anything from it."""

import contextlib
import io
import json
import time

import pytest
from rest_framework.exceptions import ParseError

from protection.parsers import HardenedJSONParser, json_depth_check, json_loads_strict

# Every endpoint that reads a JSON body. POST /api/v1/challenges takes none
# and never parses what it is sent (test_challenges_never_parse_the_body).
JSON_ENDPOINTS = [
    "/api/v1/sessions",
    "/api/v1/sessions/refresh",
    "/api/v1/persons/lookup",
    "/api/v1/persons",
]

# About 1,000 levels in 6 KB: json.loads recursed into a RecursionError (a 500).
DEEP = b'{"email": ' + b"[" * 1000 + b"1" + b"]" * 1000 + b"}"

HOSTILE = {
    "deeply-nested": DEEP,
    "deeply-nested-objects": b'{"a":' * 1000 + b"1" + b"}" * 1000,
    "duplicate-keys": b'{"email": "a@example.com", "email": "b@example.com"}',
    "huge-integer": b'{"email": "a@example.com", "n": ' + b"9" * 4000 + b"}",
    "long-integer": b'{"phone": ' + b"1" * 25 + b"}",
    "nan": b'{"score": NaN}',
    "infinity": b'{"score": -Infinity}',
    "overflowing-float": b'{"altcha": 1e999}',
    "truncated": b'{"email": "a@example.com"',
}


def test_depth_scan_ignores_brackets_inside_strings():
    json_depth_check(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', max_depth=2)
    json_depth_check(b'{"a": "\\"[[[[[[[["}', max_depth=1)
    with pytest.raises(ParseError):
        json_depth_check(b"[[[1]]]", max_depth=2)


@pytest.mark.parametrize(
    "body",
    [b'"' + b'\\"' * 8000, b'"' + b'\\"' * 8000 + b"\\", b'"\\' * 5000, b'"' * 16000],
    ids=["escaped-quotes", "trailing-backslash", "quote-backslash", "quotes"],
)
def test_depth_scan_stays_linear_on_crafted_strings(body):
    # A failed string match restarting at every later quote took 2.3 s here.
    started = time.perf_counter()
    with contextlib.suppress(ParseError):
        json_depth_check(body, max_depth=32)
    assert time.perf_counter() - started < 0.5


def test_strict_loads_keeps_ordinary_json():
    body = b'{"email": "a@example.com", "n": 12345678901234567890, "f": 1.5, "l": [[1]]}'
    assert json_loads_strict(body, max_depth=3, max_integer_digits=20) == json.loads(body)


@pytest.mark.parametrize("body", [DEEP, b'{"a": 1, "a": 2}', b"[NaN]", b"[1e400]", b"\xff"])
def test_strict_loads_refuses(body):
    with pytest.raises(ParseError):
        json_loads_strict(body, max_depth=32, max_integer_digits=20)


def test_parser_reads_no_more_than_the_body_limit(settings):
    # A chunked body has no Content-Length for the middleware to refuse.
    settings.GATEHOUSE = {**settings.GATEHOUSE, "MAX_BODY_BYTES": 100}
    stream = io.BytesIO(b'{"full_name": "' + b"x" * 10_000_000 + b'"}')
    with pytest.raises(ParseError, match="must not exceed 100 bytes"):
        HardenedJSONParser().parse(stream)
    assert stream.tell() == 101


@pytest.fixture
def credentials(make_api_key, make_session):
    key, raw = make_api_key()
    issued = make_session(key)
    return {"HTTP_X_API_KEY": raw, "HTTP_AUTHORIZATION": f"Bearer {issued.access}"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", JSON_ENDPOINTS)
@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_hostile_json_is_malformed_json_on_every_endpoint(client, credentials, path, case):
    client.raise_request_exception = False
    response = client.post(path, data=HOSTILE[case], content_type="application/json", **credentials)
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "malformed_json"


@pytest.mark.django_db
def test_settings_move_the_depth_limit(client, credentials, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "JSON_MAX_DEPTH": 1}
    response = client.post(
        "/api/v1/persons/lookup", data=b'{"email": ["a@example.com"]}',
        content_type="application/json", **credentials,
    )  # fmt: skip
    assert response.status_code == 400
    assert "nested deeper than 1" in response.json()["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize("case", HOSTILE, ids=list(HOSTILE))
def test_challenges_never_parse_the_body(client, credentials, case):
    client.raise_request_exception = False
    response = client.post(
        "/api/v1/challenges", data=HOSTILE[case], content_type="application/json", **credentials
    )
    assert response.status_code == 201, response.content


def test_system_check_flags_the_plain_json_parser(settings):
    from protection.checks import check_json_parser

    assert check_json_parser(None) == []
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    }
    assert [message.id for message in check_json_parser(None)] == ["protection.W003"]
