"""The services and selectors called directly, as other code (or a shell) would."""

import datetime

import pytest
from django.utils import timezone

from protection.base.exceptions import ProtectionError
from signup.persons import Person
from signup.selectors import person_exists
from signup.services import (
    person_create,
    person_create_input,
    person_lookup,
    person_lookup_input,
)

pytestmark = pytest.mark.django_db


def _render(person: Person) -> dict:
    return {"id": str(person.id), "email": person.email}


def test_person_exists_needs_exactly_one_identifier():
    with pytest.raises(ValueError):
        person_exists()
    with pytest.raises(ValueError):
        person_exists(email="a@example.com", phone="+12015550123")


def test_person_create_normalises_and_records_origin(api_key, make_session):
    key, _ = api_key
    issued = make_session(key)
    now = timezone.now() - datetime.timedelta(minutes=5)
    data = person_create_input(
        email=" Ada@EXAMPLE.com", full_name=" Ada ", phone="201 555 0123", api_key=key
    )
    outcome = person_create(
        data=data,
        api_key=key,
        session=issued.session,
        client_ip="192.0.2.1",
        render=_render,
        now=now,
    )
    assert (outcome.status, outcome.replayed) == (201, False)
    person = Person.objects.get()
    assert outcome.body == {"id": str(person.id), "email": "Ada@example.com"}
    assert (person.phone, person.full_name, person.created_at) == ("+12015550123", "Ada", now)
    assert person.created_in_session == issued.session.id


def test_person_create_refuses_invalid_values_with_field_errors(api_key):
    key, _ = api_key
    with pytest.raises(ProtectionError) as excinfo:
        person_create_input(email="nope", full_name="Ada", api_key=key)
    assert excinfo.value.code == "invalid_request"
    assert excinfo.value.extra["errors"][0]["field"] == "email"


def test_person_lookup_answers_for_normalised_identifiers():
    Person.objects.create(email="ada@example.com", phone="+12015550123", full_name="Ada")
    assert person_lookup(lookup=person_lookup_input(email="ada@example.COM")) is True
    assert person_lookup(lookup=person_lookup_input(phone="(201) 555-0123")) is True
    assert person_lookup(lookup=person_lookup_input(email="grace@example.com")) is False
    with pytest.raises(ProtectionError):
        person_lookup_input()
