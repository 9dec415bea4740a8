"""Idempotency-Key: a retry replays the first answer; another body with the key is 422."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from protection.core.events import SecurityEvent
from signup.idempotency import IdempotencyRecord, idempotency_purge_expired
from signup.persons import Person
from tests.support.signup import person_body

pytestmark = pytest.mark.django_db


def test_retry_with_the_same_key_and_body_replays_without_creating(caller):
    first = caller.create(person_body(), idempotency_key="order-1")
    again = caller.create(person_body(), idempotency_key="order-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content  # byte for byte
    assert again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Person.objects.count() == 1
    assert SecurityEvent.objects.filter(kind="person_created").count() == 1


def test_key_order_and_whitespace_of_the_body_do_not_matter(caller):
    caller.create({"full_name": "Ada Lovelace", "email": "ada@example.com"}, idempotency_key="k")
    again = caller.client.post(
        "/api/v1/persons",
        '{ "email" : "ada@example.com",\n "full_name": "Ada Lovelace" }',
        content_type="application/json",
        **caller.headers(HTTP_IDEMPOTENCY_KEY="k"),
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_is_422(caller):
    caller.create(person_body(), idempotency_key="order-1")
    response = caller.create(person_body(full_name="Ada King"), idempotency_key="order-1")
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_conflict"
    assert Person.objects.get().full_name == "Ada Lovelace"


def test_keys_are_scoped_per_api_key(make_caller):
    assert make_caller().create(person_body(), idempotency_key="same").status_code == 201
    other = make_caller().create(person_body(email="grace@example.com"), idempotency_key="same")
    assert other.status_code == 201 and "Idempotent-Replayed" not in other
    assert Person.objects.count() == 2


def test_a_conflict_is_replayed_too(make_caller):
    make_caller().create(person_body())
    caller = make_caller()
    first = caller.create(person_body(), idempotency_key="k")
    Person.objects.all().delete()  # the replay answers what happened then, not now
    again = caller.create(person_body(), idempotency_key="k")
    assert first.status_code == again.status_code == 409
    assert again.content == first.content
    assert again["Content-Type"] == "application/problem+json"


def test_a_replay_is_not_refused_by_the_per_session_limit(caller):
    assert caller.create(person_body(), idempotency_key="k").status_code == 201
    assert caller.create(person_body(), idempotency_key="k").status_code == 201
    assert (
        caller.create(person_body(email="b@example.com"), idempotency_key="k2").status_code == 429
    )


def test_a_refused_request_is_not_stored_so_a_later_retry_is_judged_anew(caller, signup_settings):
    signup_settings(SIGNUP_CREATE_IP_RATE="0/d")
    assert caller.create(person_body(), idempotency_key="k").status_code == 429
    assert not IdempotencyRecord.objects.exists()
    signup_settings(SIGNUP_CREATE_IP_RATE="10/d", SIGNUP_CREATES_PER_SESSION=2)
    assert caller.create(person_body(), idempotency_key="k").status_code == 201


def test_invalid_bodies_are_not_stored(caller):
    assert caller.create(person_body(email="bad"), idempotency_key="k").status_code == 400
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "ключ"])
def test_malformed_keys_are_400(caller, key):
    response = caller.create(person_body(), idempotency_key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"]
    assert Person.objects.count() == 0


def test_an_expired_record_no_longer_replays(make_caller, make_session, signup_settings):
    caller = make_caller()
    caller.create(person_body(), idempotency_key="k")
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == datetime.timedelta(hours=24)
    IdempotencyRecord.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    caller.issued = make_session(caller.api_key)
    again = caller.create(person_body(), idempotency_key="k")
    assert again.status_code == 409  # judged anew: the person exists now
    assert "Idempotent-Replayed" not in again
    assert IdempotencyRecord.objects.get().response_status == 409


def test_ttl_is_configurable(caller, signup_settings):
    signup_settings(SIGNUP_IDEMPOTENCY_TTL=60)
    caller.create(person_body(), idempotency_key="k")
    record = IdempotencyRecord.objects.get()
    assert record.expires_at - record.created_at == datetime.timedelta(seconds=60)


def test_purge_removes_only_expired_records(make_caller):
    for n in range(3):
        make_caller().create(person_body(email=f"p{n}@example.com"), idempotency_key="k")
    now = timezone.now()
    IdempotencyRecord.objects.filter(
        pk__in=list(IdempotencyRecord.objects.values_list("pk", flat=True)[:2])
    ).update(expires_at=now - datetime.timedelta(minutes=1))
    assert idempotency_purge_expired(now=now) == 2
    assert IdempotencyRecord.objects.count() == 1


def test_purge_expired_command_reports_idempotency_records(caller, capsys):
    caller.create(person_body(), idempotency_key="k")
    IdempotencyRecord.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    call_command("purge_expired")
    assert "idempotency records: 1 removed" in capsys.readouterr().out
    assert not IdempotencyRecord.objects.exists()


def test_stored_records_hold_no_personal_data_and_replays_are_unchanged(caller):
    body = person_body(phone="+12015550123")
    first = caller.create(body, idempotency_key="pii-1")
    assert first.status_code == 201
    record = IdempotencyRecord.objects.get(key="pii-1")
    raw = record.response_body
    person = Person.objects.get()
    assert str(person.id) in raw  # what the replay is rendered from
    without_ids = raw.replace(str(person.id), "")  # (a UUID's hex can spell "ada")
    for personal in (person.email, person.phone, person.full_name, "ada", "Lovelace", "5550123"):
        assert personal not in without_ids
    again = caller.create(body, idempotency_key="pii-1")
    assert again.content == first.content  # still byte for byte


def test_a_replay_after_the_person_was_erased_does_not_resurrect_their_data(
    caller, signup_settings
):
    signup_settings(SIGNUP_CREATES_PER_SESSION=2)
    first = caller.create(person_body(), idempotency_key="erase-1")
    assert first.status_code == 201
    Person.objects.all().delete()
    again = caller.create(person_body(), idempotency_key="erase-1")
    # The record pointed at nobody: the retry is judged anew (and creates again).
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Person.objects.count() == 1
