"""person.created and person.labelled, end to end on a loopback receiver: queued in
the transaction that creates (or labels) the person, delivered signed by
outbox_send; a create that rolls back, or is refused, sends nothing."""

from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from standardwebhooks import Webhook

from protection.core.outbox import OutboxMessage
from protection.webhooks import webhook_endpoint_create
from signup.labels import person_label
from signup.persons import Person
from tests.support.receivers import Receiver, receiving
from tests.support.signup import person_body
from tests.support.webhooks import signature_valid

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(settings: Any) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1, which only WEBHOOKS_ALLOW_PRIVATE_TARGETS lets us call."""
    settings.GATEHOUSE = {**settings.GATEHOUSE, "WEBHOOKS_ALLOW_PRIVATE_TARGETS": True}
    with receiving() as started:
        yield started


@pytest.fixture
def secret(receiver: Receiver) -> str:
    _endpoint, secret = webhook_endpoint_create(
        url=f"{receiver.url}/hooks", event_types="person.created,person.labelled"
    )
    return secret


def test_a_create_is_told_to_the_receiver_signed_without_personal_data(caller, receiver, secret):
    response = caller.create(person_body(phone="+12015550123"))
    assert response.status_code == 201
    assert receiver.received == []  # queued, not sent from the request
    call_command("outbox_send", verbosity=0)
    [delivery] = receiver.received
    assert signature_valid(secret, delivery.headers, delivery.body)
    event = Webhook(secret).verify(delivery.body, delivery.headers)
    assert event["type"] == "person.created"
    person = Person.objects.get()
    assert event["data"] == {
        "person_id": str(person.id),
        "created_at": event["data"]["created_at"],
        "api_key": caller.api_key.public_id,
        "session_id": str(caller.issued.session.id),
        "verdict": {"action": "allow", "risk": 0, "reasons": []},
    }
    assert event["data"]["created_at"].startswith(person.created_at.strftime("%Y-%m-%dT%H:%M"))
    for personal in (b"ada@example.com", b"5550123", b"Lovelace"):
        assert personal not in delivery.body


def test_with_webhooks_include_pii_the_identifiers_are_sent(caller, receiver, secret, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "WEBHOOKS_INCLUDE_PII": True}
    assert caller.create(person_body()).status_code == 201
    call_command("outbox_send", verbosity=0)
    event = Webhook(secret).verify(receiver.received[0].body, receiver.received[0].headers)
    assert event["data"]["email"] == "ada@example.com"
    assert event["data"]["full_name"] == "Ada Lovelace"


def test_a_create_that_rolls_back_sends_nothing(caller, receiver, secret):
    # The last write of the create's transaction (the Idempotency-Key's
    # answer) fails: the person, its snapshot and its webhook go with it.
    with mock.patch(
        "signup.idempotency.idempotency_complete", side_effect=RuntimeError("disk full")
    ):
        response = caller.create(person_body(), idempotency_key="k-1")
    assert response.status_code == 500  # our fault, answered as a problem
    assert not Person.objects.exists()
    assert not OutboxMessage.objects.exists()
    call_command("outbox_send", verbosity=0)
    assert receiver.received == []


def test_a_refused_create_sends_nothing(make_caller, receiver, secret):
    assert make_caller().create(person_body()).status_code == 201
    assert make_caller().create(person_body()).status_code == 409
    call_command("outbox_send", verbosity=0)
    assert [Webhook(secret).verify(r.body, r.headers)["type"] for r in receiver.received] == [
        "person.created"
    ]


def test_a_label_is_told_to_the_receiver(caller, receiver, secret):
    assert caller.create(person_body()).status_code == 201
    person = Person.objects.get()
    person_label(person=person, label="fraud", reason="chargeback", by_name="ops")
    call_command("outbox_send", verbosity=0)
    events = [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]
    labelled = [event for event in events if event["type"] == "person.labelled"]
    assert [event["data"]["label"] for event in labelled] == ["fraud"]
    assert labelled[0]["data"]["person_id"] == str(person.id)
    assert labelled[0]["data"]["reason"] == "chargeback"
