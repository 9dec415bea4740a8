"""Through the documented stack (nginx from the template → gunicorn with the
production config, JSON logs): refused query strings leave no key and no email
in any log line, and the answers nginx or gunicorn give before gatehouse can
(413, 414, 431) are problem+json (issue 23, points 5 and 10)."""

import http.client
import json
import time

import pytest

from protection.base.exceptions import problem_body
from tests.support.gunicorn import request
from tests.support.stack import production_stack

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture
def stack(transactional_db, tmp_path, settings):
    # config.settings itself (not the bench's quiet logging): django.request
    # warnings are written as in production.
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_LOG_LEVEL": "WARNING",
        "GATEHOUSE_LOG_LEVEL": "INFO",
    }
    with production_stack(tmp_path, env=env, workers=2) as running:
        settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": running.signing_key}
        yield running


def _wait_for(path, text, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never reached {path}")


def test_refused_query_strings_reach_no_log_line(stack, make_api_key):
    _key, raw = make_api_key(required_verifications=[])
    body = raw.split("_", 2)[2]  # the key without its prefix
    probes = [
        ("/api/v1/challenges?api_key=" + raw, 403),
        ("/api/v1/challenges?ref=" + body, 403),
        ("/api/v1/persons/lookup?email=victim%40example.com", 400),
    ]
    for path, status in probes:
        answered, content = request(stack.port, "POST", path, {}, {"X-Api-Key": raw})
        assert answered == status, content
    _wait_for(stack.access_log, "/api/v1/persons/lookup")
    _wait_for(stack.app_log, "Bad Request: /api/v1/persons/lookup")
    app_log, access_log = stack.app_log.read_text(), stack.access_log.read_text()
    for secret in (raw, body, "victim"):
        assert secret not in app_log, secret
        assert secret not in access_log, secret
    # The lines are there, with the path and without the query.
    assert '"POST /api/v1/challenges HTTP/1.1" 403' in access_log
    warnings = [
        json.loads(line)
        for line in app_log.splitlines()
        if line.startswith("{") and '"django.request"' in line
    ]
    assert len(warnings) >= 3
    # The JSON formatter writes the path alone (a formatter that writes the
    # request gets it redacted: tests/protection/logcontext).
    assert {warning["message"].split(": ")[-1] for warning in warnings} >= {
        "/api/v1/challenges",
        "/api/v1/persons/lookup",
    }


def _problem(status: int, content: bytes, headers: dict, code: str) -> None:
    assert headers.get("content-type") == "application/problem+json", (status, content)
    body = json.loads(content)
    expected = problem_body(code)
    assert (body["status"], body["code"], body["type"], body["title"]) == (
        status,
        code,
        expected["type"],
        expected["title"],
    )


def _raw_request(port: int, method: str, path: str, headers: dict, body: bytes = b""):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()


def test_front_refusals_are_problem_json(stack):
    port = stack.port
    # nginx: a body over 16 KiB.
    status, content, headers = _raw_request(
        port, "POST", "/api/v1/persons/lookup", {"Content-Type": "application/json"}, b"x" * 20000
    )
    assert status == 413
    _problem(status, content, headers, "payload_too_large")
    # nginx: a request line over its 8 KiB buffers.
    status, content, headers = _raw_request(port, "GET", "/api/" + "a" * 9000, {})
    assert status == 414
    _problem(status, content, headers, "uri_too_long")
    # gunicorn: a request line over limit_request_line (4094), under nginx's buffers.
    status, content, headers = _raw_request(port, "GET", "/api/" + "a" * 5000, {})
    assert status == 414
    _problem(status, content, headers, "uri_too_long")
    # nginx: one header over 8 KiB.
    status, content, headers = _raw_request(port, "GET", "/api/v1/health", {"X-Big": "a" * 9000})
    assert status == 431
    _problem(status, content, headers, "headers_too_large")
    # gunicorn: more than limit_request_fields (50) header fields.
    many = {f"X-Field-{index}": "v" for index in range(60)}
    status, content, headers = _raw_request(port, "GET", "/api/v1/health", many)
    assert status == 431
    _problem(status, content, headers, "headers_too_large")
