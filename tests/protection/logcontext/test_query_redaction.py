"""Query strings never reach a log line (issue 23, point 5).

A refused ``POST /api/v1/challenges?api_key=<key>`` or ``?email=...`` put the
raw key and the address in the JSON log: Django's ``django.request`` warning
carries the request, whose repr is the full URL. The log filter takes every
query string out of the record (message, arguments, ``request``).
"""

import logging

import pytest
from django.test import RequestFactory

from protection.logcontext import RequestContextFilter, redact_query
from tests.support.jsonlogs import JsonLines

pytestmark = pytest.mark.django_db


def test_refused_query_strings_leave_no_key_and_no_email_in_the_log(client, api_key):
    _, raw = api_key
    with JsonLines() as lines:
        keyed = client.post(f"/api/v1/challenges?api_key={raw}", HTTP_X_API_KEY=raw)
        mailed = client.post("/api/v1/persons/lookup?email=victim%40example.com", {}, format="json")
    assert keyed.status_code == 403 and mailed.status_code in (400, 401)
    text = lines.text
    assert raw not in text and raw.split("_", 2)[2] not in text
    assert "victim" not in text
    warnings = [record for record in lines.records() if record["logger"] == "django.request"]
    assert warnings, text  # the lines that used to carry the URL are still written
    for record in warnings:  # a formatter that writes the request writes it redacted
        assert "?" not in record.get("request", "") or "?[redacted]" in record["request"]


def test_the_filter_redacts_message_arguments_and_the_request():
    request = RequestFactory().post("/api/v1/challenges?api_key=gh_pub_secretish&x=1")
    record = logging.LogRecord(
        "django.request",
        logging.WARNING,
        __file__,
        1,
        "Refused %s from %s",
        ("/api/v1/challenges?email=a@example.com", request),
        None,
    )
    record.request = request
    RequestContextFilter().filter(record)
    message = record.getMessage()
    assert "a@example.com" not in message and "secretish" not in message
    assert "/api/v1/challenges?[redacted]" in message
    assert "secretish" not in repr(record.request) and "POST" in repr(record.request)
    assert record.request.method == "POST"  # handlers still read the request itself


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /api/v1/x?a=1 HTTP/1.1", "GET /api/v1/x?[redacted] HTTP/1.1"),
        ("<WSGIRequest: POST '/api/v1/x?k=v'>", "<WSGIRequest: POST '/api/v1/x?[redacted]'>"),
        ("https://h.example/admin/?q=ada@example.com", "https://h.example/admin/?[redacted]"),
        ("no query here", "no query here"),
        ("Is this right?", "Is this right?"),
    ],
)
def test_redact_query(text, expected):
    assert redact_query(text) == expected
