"""Log lines of the sign-up API: JSON naming the request, never the person."""

import datetime
import logging

import pytest

from tests.support.jsonlogs import JsonLines

pytestmark = pytest.mark.django_db

EMAIL = "ada.lovelace@example.com"
PHONE = "+12015550123"


@pytest.fixture
def json_lines():
    with JsonLines() as lines:
        yield lines


def test_a_denied_lookup_is_logged_as_one_json_line_with_its_context(
    make_caller, signup_settings, json_lines
):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=1)
    caller = make_caller(remote_addr="203.0.113.9")
    assert caller.lookup({"email": EMAIL}).status_code == 200
    denied = caller.lookup({"email": EMAIL})
    assert denied.status_code == 429

    denials = [r for r in json_lines.records() if r.get("event_decision") == "deny"]
    assert denials, json_lines.text
    line = denials[-1]
    assert line["level"] == "INFO"
    assert line["logger"] == "gatehouse.events"
    logged_at = datetime.datetime.fromisoformat(line["time"])
    assert logged_at.utcoffset() == datetime.timedelta(0)
    assert abs(datetime.datetime.now(datetime.UTC) - logged_at) < datetime.timedelta(minutes=1)
    assert line["request_id"] == denied["X-Request-ID"]
    assert line["client_ip"] == "203.0.113.9"
    assert line["api_key"] == caller.api_key.public_id
    assert line["session_id"] == str(caller.issued.session.id)
    assert line["event_kind"] and line["event_reason"]
    assert EMAIL not in json_lines.text


def test_creating_a_person_logs_no_email_and_no_phone(caller, json_lines, settings):
    logging.getLogger("gatehouse").setLevel(logging.DEBUG)
    try:
        response = caller.create({"email": EMAIL, "phone": PHONE, "full_name": "Ada Lovelace"})
        again = caller.create({"email": EMAIL, "phone": PHONE, "full_name": "Ada Lovelace"})
    finally:
        logging.getLogger("gatehouse").setLevel(logging.INFO)
    assert response.status_code == 201
    assert again.status_code in (409, 429)
    assert json_lines.records(), "the create should have logged its security event"
    text = json_lines.text
    for secret in (EMAIL, "ada.lovelace", PHONE, PHONE[1:], "2015550123"):
        assert secret not in text
