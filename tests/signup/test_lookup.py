"""find_person: one boolean, nothing else differs; sweeps are throttled and recorded."""

import json
import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from protection.core.events import SecurityEvent
from signup.persons import Person

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
PHONE = "+12015550123"


@pytest.fixture
def person(db):
    return Person.objects.create(email=EMAIL, phone=PHONE, full_name="Ada Lovelace")


def _shape(response):
    # Date, the RateLimit counters and the request id change from one request
    # to the next, whatever the answer; their presence must not.
    headers = {
        k: (v if k.lower() not in {"date", "ratelimit", "x-request-id"} else "<varies>")
        for k, v in response.headers.items()
    }
    return response.status_code, headers, len(response.content)


def test_existing_and_missing_differ_only_in_the_boolean(person, make_caller):
    found = make_caller().lookup({"email": EMAIL})
    missing = make_caller().lookup({"email": "grace@example.com"})
    assert found.content == b'{"exists":true }'
    assert missing.content == b'{"exists":false}'
    assert found.json() == {"exists": True} and missing.json() == {"exists": False}
    assert _shape(found) == _shape(missing)
    assert found.content.replace(b"true ", b"false") == missing.content


def test_existing_and_missing_run_the_same_queries(person, make_caller, django_assert_num_queries):
    make_caller().lookup({"email": "warm.up@example.com"})  # first-request loads (block list)
    with CaptureQueriesContext(connection) as found_queries:
        assert make_caller().lookup({"email": EMAIL}).json() == {"exists": True}
    with CaptureQueriesContext(connection) as missing_queries:
        assert make_caller().lookup({"email": "grace@example.com"}).json() == {"exists": False}
    # Same statements, only the parameters differ.
    found_sql = [q["sql"].replace(EMAIL, "?") for q in found_queries.captured_queries]
    missing_sql = [
        q["sql"].replace("grace@example.com", "?") for q in missing_queries.captured_queries
    ]
    assert len(found_sql) == len(missing_sql)
    lookup_sql = [sql for sql in found_sql if "signup_person" in sql]
    assert len(lookup_sql) == 1
    with django_assert_num_queries(len(found_sql)):
        make_caller().lookup({"email": "someone.else@example.com"})
    with django_assert_num_queries(len(found_sql)):
        make_caller().lookup({"email": EMAIL})


def test_lookup_by_phone_in_any_spelling(person, caller):
    assert caller.lookup({"phone": "(201) 555-0123"}).json() == {"exists": True}
    assert caller.lookup({"phone": "+1 201 555 0199"}).json() == {"exists": False}


def test_lookup_matches_other_spellings_of_the_email(person, caller):
    assert caller.lookup({"email": "  ada@EXAMPLE.com "}).json() == {"exists": True}
    assert caller.lookup({"email": "ａｄａ@example.com"}).json() == {"exists": True}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": EMAIL, "phone": PHONE}, "non_field_errors"),
        ({}, "non_field_errors"),
        ({"email": EMAIL, "name": "x"}, "name"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "12"}, "phone"),
        ({"email": None}, "email"),
        ({"email": ["a@b.com"]}, "email"),
    ],
)
def test_bad_bodies_are_400_without_echoing_the_identifier(caller, body, field):
    response = caller.lookup(body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert field in {error["field"] for error in problem["errors"]}
    assert "not-an-address" not in response.content.decode()


def test_a_json_list_is_400(caller):
    assert caller.lookup([{"email": EMAIL}]).status_code == 400


def test_needs_a_key_a_session_and_the_lookup_scope(caller, make_caller, make_session, client):
    no_key = client.post("/api/v1/persons/lookup", {"email": EMAIL}, format="json")
    assert no_key.status_code == 401
    no_token = client.post(
        "/api/v1/persons/lookup", {"email": EMAIL}, format="json", HTTP_X_API_KEY=caller.raw_key
    )
    assert (no_token.status_code, no_token.json()["code"]) == (401, "token_missing")
    create_only = make_caller(scopes=["session", "create"])
    refused = create_only.lookup({"email": EMAIL})
    assert (refused.status_code, refused.json()["code"]) == (403, "scope_denied")
    other = make_caller()
    stolen = client.post(
        "/api/v1/persons/lookup",
        {"email": EMAIL},
        format="json",
        HTTP_X_API_KEY=caller.raw_key,
        HTTP_AUTHORIZATION=f"Bearer {other.issued.access}",
    )
    assert stolen.status_code == 401


def test_lookups_per_session_are_limited(person, make_caller, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=3)
    caller = make_caller()
    for n in range(3):
        assert caller.lookup({"email": f"p{n}@example.com"}).status_code == 200
    refused = caller.lookup({"email": EMAIL})
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert refused["RateLimit-Policy"] == '"lookup_per_session";q=3;w=7200'
    assert refused["RateLimit"].startswith('"lookup_per_session";r=0;t=')
    event = SecurityEvent.objects.get(kind="rate_limited")
    assert (event.decision, event.reason) == ("deny", "lookup_per_session")
    assert event.session_id == caller.issued.session.id
    # A new session (a new proof of work) may look up again.
    assert make_caller(api_key=(caller.api_key, caller.raw_key)).lookup(
        {"email": EMAIL}
    ).json() == {"exists": True}


def test_refusals_do_not_depend_on_existence(person, make_caller, signup_settings):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=0)
    found = make_caller().lookup({"email": EMAIL})
    missing = make_caller().lookup({"email": "grace@example.com"})
    assert found.status_code == missing.status_code == 429
    assert found.content == missing.content


def test_one_identifier_is_limited_across_ips_and_keys(person, make_caller, signup_settings):
    # Enforced (by default it only observes: see test_shared_budgets.py).
    signup_settings(SIGNUP_LOOKUP_IDENTIFIER_RATE="3/h", SIGNUP_SHARED_LIMITS_OBSERVE=[])
    for n in range(3):
        probe = make_caller(remote_addr=f"198.51.100.{n + 1}")
        assert probe.lookup({"email": EMAIL}).status_code == 200
    refused = make_caller(remote_addr="192.0.2.99").lookup({"email": " ada@EXAMPLE.com"})
    assert refused.status_code == 429
    assert SecurityEvent.objects.get(kind="rate_limited").reason == "lookup_per_identifier"
    # Other identifiers are unaffected.
    assert (
        make_caller(remote_addr="192.0.2.99").lookup({"email": "x@example.com"}).status_code == 200
    )


def test_distinct_identifiers_per_ip_sweep_is_refused_and_recorded(make_caller, signup_settings):
    signup_settings(SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="4/h")
    swept = []
    for n in range(4):
        email = f"sweep{n}@example.com"
        swept.append(email)
        assert make_caller().lookup({"email": email}).status_code == 200
    # The same identifiers again do not count as new.
    assert make_caller().lookup({"email": swept[0]}).status_code == 200
    refused = make_caller().lookup({"email": "sweep4@example.com"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    event = SecurityEvent.objects.get(kind="enumeration_suspected")
    assert (event.decision, event.reason) == ("deny", "lookup_distinct_per_ip")
    assert event.client_ip == "203.0.113.7"
    assert event.path == "/api/v1/persons/lookup"
    assert event.details["identifier_kind"] == "email"
    assert len(event.details["identifier_digest"]) == 64
    assert "sweep4" not in json.dumps(event.details)
    # Another IP is not affected.
    assert (
        make_caller(remote_addr="198.51.100.50").lookup({"email": "sweep5@example.com"}).status_code
        == 200
    )


def test_ipv6_clients_share_their_64_for_the_sweep_limit(make_caller, signup_settings):
    signup_settings(SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="2/h")
    assert (
        make_caller(remote_addr="2001:db8::1").lookup({"email": "a@example.com"}).status_code == 200
    )
    assert (
        make_caller(remote_addr="2001:db8::2").lookup({"email": "b@example.com"}).status_code == 200
    )
    assert (
        make_caller(remote_addr="2001:db8::3").lookup({"email": "c@example.com"}).status_code == 429
    )


def test_distinct_identifiers_per_key_sweep_is_refused(make_api_key, make_caller, signup_settings):
    # Enforced (by default it only observes: see test_shared_budgets.py).
    signup_settings(SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE="3/h", SIGNUP_SHARED_LIMITS_OBSERVE=[])
    key = make_api_key()
    for n in range(3):
        probe = make_caller(api_key=key, remote_addr=f"198.51.100.{n + 1}")
        assert probe.lookup({"phone": f"+1201555010{n}"}).status_code == 200
    refused = make_caller(api_key=key, remote_addr="192.0.2.1").lookup({"phone": "+12015550109"})
    assert refused.status_code == 429
    event = SecurityEvent.objects.get(kind="enumeration_suspected")
    assert event.reason == "lookup_distinct_per_key"
    assert event.api_key_id == key[0].id
    assert event.details["identifier_kind"] == "phone"
    # Another key is not affected.
    assert make_caller(remote_addr="192.0.2.1").lookup({"phone": "+12015550109"}).status_code == 200


def test_identifiers_never_appear_in_events_logs_or_error_bodies(
    person, make_caller, signup_settings, caplog
):
    signup_settings(SIGNUP_LOOKUPS_PER_SESSION=1, SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE="1/h")
    secret_email = "secret.person@example.com"
    caplog.set_level(logging.DEBUG)
    responses = [make_caller().lookup({"email": secret_email}) for _ in range(3)]
    caller = make_caller()
    responses += [caller.lookup({"email": "other.secret@example.com"}) for _ in range(2)]
    responses.append(caller.lookup({"email": "secret.invalid@"}))
    assert {r.status_code for r in responses} >= {200, 429}
    for response in responses[1:]:
        assert b"secret" not in response.content
    for event in SecurityEvent.objects.all():
        text = json.dumps([event.details, event.reason, event.path, event.kind])
        assert "secret" not in text and "example.com" not in text
    assert SecurityEvent.objects.exists()
    assert "secret" not in caplog.text


def test_cache_outage_refuses_with_503_not_500(person, caller, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    response = caller.lookup({"email": EMAIL})
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


@pytest.mark.parametrize("name", ["email", "EMAIL", "Phone", "full_NAME"])
@pytest.mark.parametrize("path", ["/api/v1/persons/lookup", "/api/v1/persons"])
def test_identifiers_in_the_url_are_refused(caller, path, name):
    response = caller.client.post(
        f"{path}?{name}=ada%40example.com", {"email": EMAIL}, format="json", **caller.headers()
    )
    assert response.status_code == 400
    assert "body" in response.json()["detail"]
    assert b"ada" not in response.content
    assert not Person.objects.exists()


def _lookup_rates(settings, **dimensions):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "RATE_LIMITS": {**settings.GATEHOUSE.get("RATE_LIMITS", {}), "lookup": dimensions},
    }


@pytest.mark.redis
def test_a_lookup_is_one_redis_round_trip_and_one_database_query(
    caller, settings, monkeypatch, django_assert_num_queries
):
    from protection.core.ratelimit import batch

    _lookup_rates(settings, ip=["100/m"], key=["100/m", "1000/d"], session=["50/m"])
    calls = []
    real = batch.redis_count
    monkeypatch.setattr(
        "protection.core.ratelimit.counters.redis_count",
        lambda *args, **kwargs: (
            calls.append((len(args[1]), len(kwargs["reads"]))) or real(*args, **kwargs)
        ),
    )
    assert caller.lookup({"email": EMAIL}).status_code == 200  # warms the key cache
    calls.clear()
    with django_assert_num_queries(1):  # the person, nothing else
        response = caller.lookup({"email": EMAIL})
    assert response.status_code == 200
    # One script call: ip + key (2 windows) + session + the four lookup
    # limits, reading the block-list, network-data and keys versions, the
    # session's revocation mark and whether the marks can be trusted.
    assert calls == [(8, 5)]
    assert response["RateLimit-Policy"].count(";q=") == 4  # ip, key x2, session


def test_a_bad_body_spends_only_the_ip_budget(caller, settings):
    # The client's own fault spends no budget shared with others (the key's)
    # and none of its session's: only its address's, before anything else.
    _lookup_rates(settings, ip=["3/m"], key=["2/m"], session=["2/m"])
    assert caller.lookup({"email": "not-an-address"}).status_code == 400
    assert caller.lookup({}).status_code == 400
    assert caller.lookup({"email": EMAIL}).status_code == 200
    refused = caller.lookup({"email": EMAIL})
    assert refused.status_code == 429  # the IP's third request in a minute
    assert refused.json()["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    # Once refused, a bad body is refused too: the IP's budget comes first.
    assert caller.lookup({"email": "not-an-address"}).status_code == 429


def test_a_request_refused_by_its_key_limit_spends_no_lookup_budget(
    person, make_caller, settings, signup_settings
):
    _lookup_rates(settings, session=["1/m"])
    signup_settings(SIGNUP_LOOKUP_IDENTIFIER_RATE="2/h", SIGNUP_SHARED_LIMITS_OBSERVE=[])
    first, second = make_caller(), make_caller()
    assert first.lookup({"email": EMAIL}).status_code == 200
    assert first.lookup({"email": EMAIL}).status_code == 429  # its session limit
    assert first.lookup({"email": EMAIL}).status_code == 429
    # The identifier was counted once, not three times: another caller still
    # has the second lookup of it.
    assert second.lookup({"email": EMAIL}).json() == {"exists": True}
    refused = make_caller().lookup({"email": EMAIL})
    assert refused.status_code == 429
    assert SecurityEvent.objects.filter(reason="lookup_per_identifier").count() == 1
