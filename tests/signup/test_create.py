"""create_person: canonical storage, no duplicates, strict bodies, limits, audit."""

import json

import idna
import pytest

from protection.core.events import SecurityEvent
from signup.persons import Person
from tests.support.signup import person_body

pytestmark = pytest.mark.django_db


def test_create_answers_201_with_the_stored_person(caller):
    response = caller.create(
        {"email": "  Ada@EXAMPLE.com ", "full_name": " Ada   Lovelace ", "phone": "(201) 555-0123"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "phone", "full_name", "created_at"}
    assert body["email"] == "Ada@example.com"
    assert body["phone"] == "+12015550123"
    assert body["full_name"] == "Ada Lovelace"
    person = Person.objects.get(id=body["id"])
    assert person.created_by_key == caller.api_key
    assert person.created_in_session == caller.issued.session.id
    assert body["created_at"].startswith(person.created_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_phone_is_optional_and_null(caller):
    response = caller.create(person_body())
    assert response.status_code == 201 and response.json()["phone"] is None
    assert Person.objects.get().phone is None


def test_many_people_without_phone(make_caller):
    for n in range(3):
        assert (
            make_caller().create(person_body(email=f"p{n}@example.com", phone="")).status_code
            == 201
        )
    assert Person.objects.filter(phone__isnull=True).count() == 3


@pytest.mark.parametrize(
    "second_email",
    ["ada@example.com", "ada@EXAMPLE.COM", " ada@example.com.", "ａｄａ@example.com"],
)
def test_another_spelling_of_a_taken_email_is_409(make_caller, second_email):
    assert make_caller().create(person_body()).status_code == 201
    response = make_caller().create(person_body(email=second_email, full_name="Someone Else"))
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "conflict"
    assert Person.objects.count() == 1


def test_a_taken_phone_is_409(make_caller):
    assert make_caller().create(person_body(phone="+1 201 555 0123")).status_code == 201
    response = make_caller().create(person_body(email="other@example.com", phone="201.555.0123"))
    assert response.status_code == 409
    assert Person.objects.count() == 1


def test_the_database_itself_refuses_duplicates(db):
    from django.db import IntegrityError, transaction

    Person.objects.create(email="ada@example.com", phone="+12015550123", full_name="A")
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(email="ada@example.com", full_name="B")
    with pytest.raises(IntegrityError), transaction.atomic():
        Person.objects.create(email="b@example.com", phone="+12015550123", full_name="B")


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        (person_body(nickname="x"), "nickname", "unknown"),
        (person_body(id="00000000-0000-0000-0000-000000000000"), "id", "unknown"),
        (person_body(created_by_key=1), "created_by_key", "unknown"),
        ({"full_name": "Ada"}, "email", "required"),
        ({"email": "ada@example.com"}, "full_name", "required"),
        (person_body(email="ada@"), "email", "invalid_email"),
        (person_body(phone="123"), "phone", "invalid_phone"),
        (person_body(full_name="Ada\x07"), "full_name", "invalid_full_name"),
        (person_body(full_name="   "), "full_name", "invalid_full_name"),
        (person_body(full_name=""), "full_name", "blank"),
        (person_body(full_name="a" * 201), "full_name", "invalid_full_name"),
        (person_body(full_name="a" * 1001), "full_name", "max_length"),
    ],
)
def test_invalid_bodies_are_400_and_store_nothing(caller, body, field, code):
    response = caller.create(body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid_request"
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in problem["errors"]
    ]
    assert Person.objects.count() == 0


def test_wrong_media_type_and_oversized_bodies(caller):
    wrong = caller.client.post(
        "/api/v1/persons",
        "email=a",
        content_type="application/x-www-form-urlencoded",
        **caller.headers(),
    )
    assert (wrong.status_code, wrong.json()["code"]) == (415, "unsupported_media_type")
    huge = caller.create(person_body(full_name="a" * 20000))
    assert (huge.status_code, huge.json()["code"]) == (413, "payload_too_large")


def test_needs_the_create_scope(make_caller):
    response = make_caller(scopes=["session", "lookup"]).create(person_body())
    assert (response.status_code, response.json()["code"]) == (403, "scope_denied")


def test_every_create_is_an_event_without_clear_text(caller):
    response = caller.create(person_body(email="private.person@example.com", phone="+12015550123"))
    event = SecurityEvent.objects.get(kind="person_created")
    assert (event.decision, event.api_key, event.session_id) == (
        "allow",
        caller.api_key,
        caller.issued.session.id,
    )
    assert event.details["person_id"] == response.json()["id"]
    assert len(event.details["email_digest"]) == 64
    dumped = json.dumps(event.details)
    assert "private" not in dumped and "example.com" not in dumped and "5550123" not in dumped


def test_a_conflict_is_recorded_as_a_denial(make_caller):
    make_caller().create(person_body())
    make_caller().create(person_body())
    event = SecurityEvent.objects.get(kind="person_create_refused")
    assert (event.decision, event.reason) == ("deny", "conflict")


def test_one_create_per_session_by_default(caller, make_caller):
    assert caller.create(person_body()).status_code == 201
    refused = caller.create(person_body(email="second@example.com"))
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert int(refused["Retry-After"]) > 0
    event = SecurityEvent.objects.get(kind="rate_limited")
    assert (event.decision, event.reason) == ("deny", "create_per_session")
    assert event.details["email_digest"] and "second" not in str(event.details)
    assert Person.objects.count() == 1


def test_failed_attempts_count_against_the_session(caller):
    caller.create(person_body())  # 201
    assert caller.create(person_body()).status_code == 429  # not a free 409 probe


def test_creates_per_session_is_configurable(caller, signup_settings):
    signup_settings(SIGNUP_CREATES_PER_SESSION=2)
    assert caller.create(person_body(email="a@example.com")).status_code == 201
    assert caller.create(person_body(email="b@example.com")).status_code == 201
    assert caller.create(person_body(email="c@example.com")).status_code == 429


def test_creates_per_ip_per_day(make_caller, signup_settings):
    signup_settings(SIGNUP_CREATE_IP_RATE="2/d")
    for n in range(2):
        assert make_caller().create(person_body(email=f"p{n}@example.com")).status_code == 201
    refused = make_caller().create(person_body(email="p9@example.com"))
    assert refused.status_code == 429
    assert SecurityEvent.objects.get(kind="rate_limited").reason == "create_per_ip"
    assert refused["RateLimit-Policy"] == '"create_per_ip";q=2;w=86400'
    assert refused["RateLimit"] == f'"create_per_ip";r=0;t={refused["Retry-After"]}'
    other_ip = make_caller(remote_addr="198.51.100.9")
    assert other_ip.create(person_body(email="p9@example.com")).status_code == 201


def test_disposable_domains_are_accepted_by_default(caller):
    assert caller.create(person_body(email="x@mailinator.com")).status_code == 201


@pytest.mark.parametrize(
    "email",
    [
        "x@mailinator.com",
        "x@MAILINATOR.com",
        "x@mx.mailinator.com",
        "x@" + idna.decode("xn--di5au2k.shop"),  # listed in punycode, typed in Unicode
    ],
)
def test_disposable_domains_can_be_refused(make_caller, signup_settings, email):
    signup_settings(SIGNUP_REFUSE_DISPOSABLE_EMAIL=True)
    response = make_caller().create(person_body(email=email))
    assert response.status_code == 400
    assert response.json()["code"] == "disposable_email"
    assert SecurityEvent.objects.get(kind="person_create_refused").reason == "disposable_email"
    assert make_caller().create(person_body(email="x@example.com")).status_code == 201


@pytest.mark.parametrize(
    ("blocked", "email"),
    [
        ("bücher.example", "ada@bücher.example"),
        ("bücher.example", "ada@xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "ada@BÜCHER.example"),
        ("faß.de", "ada@faß.de"),
        ("spam.example", "ada@mx.spam.example"),
    ],
)
def test_an_email_domain_block_refuses_every_spelling_of_the_domain(caller, blocked, email):
    from protection.blocks import block_create

    block_create(kind="email_domain", value=blocked, reason="test")
    response = caller.create(person_body(email=email))
    assert response.status_code == 403
    assert response.json()["code"] == "blocked"
    assert not Person.objects.exists()
