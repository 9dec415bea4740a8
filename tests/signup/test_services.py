"""The services and selectors called directly, as other code (or a shell) would."""

import datetime

import pytest
from django.utils import timezone

from protection.base.exceptions import ProtectionError
from signup import limits
from signup.persons import Person
from signup.selectors import person_exists
from signup.services import person_create, person_lookup

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
    outcome = person_create(
        email=" Ada@EXAMPLE.com",
        full_name=" Ada ",
        phone="201 555 0123",
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


def test_person_create_refuses_invalid_values_with_field_errors(api_key, make_session):
    key, _ = api_key
    with pytest.raises(ProtectionError) as excinfo:
        person_create(
            email="nope",
            full_name="Ada",
            api_key=key,
            session=make_session(key).session,
            client_ip="192.0.2.1",
            render=_render,
        )
    assert excinfo.value.code == "invalid_request"
    assert excinfo.value.extra["errors"][0]["field"] == "email"


def test_person_lookup_answers_for_normalised_identifiers(api_key, make_session):
    key, _ = api_key
    Person.objects.create(email="ada@example.com", phone="+12015550123", full_name="Ada")
    session = make_session(key).session
    kwargs = {"api_key": key, "session": session, "client_ip": "192.0.2.1"}
    assert person_lookup(email="ada@example.COM", **kwargs) is True
    assert person_lookup(phone="(201) 555-0123", **kwargs) is True
    assert person_lookup(email="grace@example.com", **kwargs) is False
    with pytest.raises(ProtectionError):
        person_lookup(**kwargs)


def test_session_quota_retry_after_is_the_sessions_remaining_life(api_key, make_session):
    key, _ = api_key
    session = make_session(key).session
    now = session.expires_at - datetime.timedelta(seconds=90)
    limits.session_quota_take(group="test", session=session, limit=1, now=now)
    with pytest.raises(limits.LimitExceeded) as excinfo:
        limits.session_quota_take(group="test", session=session, limit=1, now=now)
    assert excinfo.value.headers["Retry-After"] == "90"
    assert excinfo.value.reason == "test_per_session"


def test_session_quotas_are_per_group_and_per_session(api_key, make_session):
    key, _ = api_key
    first, second = make_session(key).session, make_session(key).session
    limits.session_quota_take(group="lookup", session=first, limit=1)
    limits.session_quota_take(group="create", session=first, limit=1)
    limits.session_quota_take(group="lookup", session=second, limit=1)
    with pytest.raises(limits.LimitExceeded):
        limits.session_quota_take(group="lookup", session=first, limit=1)
