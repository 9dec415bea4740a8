"""Protection's own events become webhooks through a listener: a block created (not
a dry-run alert) is delivered as block.created after outbox_send, in the block's
transaction; person payloads carry no personal data unless told to."""

import datetime
import uuid

import pytest
from django.core.management import call_command
from django.db import transaction
from standardwebhooks import Webhook

from protection.blocks import block_create, block_lift
from protection.core.events import event_record
from protection.core.outbox import OutboxMessage
from protection.core.verdict import Verdict
from protection.webhooks import (
    webhook_person_created_data,
    webhooks_person_created_emit,
    webhooks_person_labelled_emit,
)

pytestmark = pytest.mark.django_db


def _delivered(receiver, secret):
    call_command("outbox_send", verbosity=0)
    return [Webhook(secret).verify(r.body, r.headers) for r in receiver.received]


def test_a_block_created_is_delivered_as_block_created(endpoint, receiver):
    _, secret = endpoint
    block = block_create(
        kind="ip",
        value="203.0.113.9",
        reason="automatic: ip-rate-limited",
        rule="ip-rate-limited",
        duration=datetime.timedelta(hours=1),
    )
    [event] = _delivered(receiver, secret)
    assert event["type"] == "block.created"
    assert event["data"] == {
        "block_id": block.pk,
        "kind": "ip",
        "value": "203.0.113.9",
        "reason": "ip-rate-limited",
        "rule": "ip-rate-limited",
        "expires_at": block.expires_at.isoformat(),
    }


def test_a_lifted_block_is_delivered_as_block_lifted(endpoint, receiver):
    _, secret = endpoint
    block = block_create(kind="session", value=str(uuid.uuid4()), reason="manual")
    block_lift(block=block)
    events = _delivered(receiver, secret)
    assert [e["type"] for e in events] == ["block.created", "block.lifted"]
    assert events[1]["data"]["block_id"] == block.pk


def test_a_block_that_rolls_back_sends_nothing(endpoint, receiver):
    with pytest.raises(RuntimeError), transaction.atomic():
        block_create(kind="ip", value="203.0.113.10", reason="manual")
        raise RuntimeError("rolled back")
    assert OutboxMessage.objects.count() == 0


def test_a_dry_run_alert_is_not_a_block_and_sends_nothing(endpoint, receiver):
    event_record(
        kind="client_blocked",
        decision="alert",
        reason="ip-rate-limited",
        details={"dry_run": True, "block_kind": "ip", "trigger": "rate_limited"},
    )
    assert OutboxMessage.objects.count() == 0


def test_key_abuse_suspected_is_delivered_with_the_keys_public_id(endpoint, receiver, api_key):
    _, secret = endpoint
    key, _ = api_key
    event_record(
        kind="key_abuse_suspected",
        decision="alert",
        reason="key-under-attack",
        api_key=key,
        details={"rule": "key-under-attack", "difficulty_boost": 1, "trigger": "rate_limited"},
    )
    [event] = _delivered(receiver, secret)
    assert event["type"] == "key.abuse_suspected"
    assert event["data"] == {
        "api_key": key.public_id,
        "rule": "key-under-attack",
        "difficulty_boost": 1,
        "trigger": "rate_limited",
    }


def test_person_created_carries_no_personal_data_by_default(gatehouse):
    person_id = uuid.uuid4()
    session_id = uuid.uuid4()
    fields = {
        "person_id": person_id,
        "created_at": datetime.datetime(2030, 1, 1, 12, tzinfo=datetime.UTC),
        "api_key_public_id": "AbCdEfGhIjKl",
        "session_id": session_id,
        "verdict": Verdict("observe", 35, ("datacenter_network",)),
        "email": "ada@example.com",
        "phone": "+12015550123",
        "full_name": "Ada Lovelace",
    }
    assert webhook_person_created_data(**fields) == {
        "person_id": str(person_id),
        "created_at": "2030-01-01T12:00:00Z",
        "api_key": "AbCdEfGhIjKl",
        "session_id": str(session_id),
        "verdict": {"action": "observe", "risk": 35, "reasons": ["datacenter_network"]},
    }
    gatehouse(WEBHOOKS_INCLUDE_PII=True)
    with_pii = webhook_person_created_data(**fields)
    assert (with_pii["email"], with_pii["phone"], with_pii["full_name"]) == (
        "ada@example.com",
        "+12015550123",
        "Ada Lovelace",
    )


def test_person_events_are_one_call_each(endpoint, receiver):
    _, secret = endpoint
    person_id = uuid.uuid4()
    now = datetime.datetime.now(tz=datetime.UTC)
    webhooks_person_created_emit(
        person_id=person_id,
        created_at=now,
        api_key_public_id="AbCdEfGhIjKl",
        session_id=None,
        verdict={"action": "allow", "risk": 0, "reasons": []},
        email="ada@example.com",
    )
    # person.labelled: this endpoint is not subscribed to it.
    assert webhooks_person_labelled_emit(person_id=person_id, label="fraud", labelled_at=now) == []
    [event] = _delivered(receiver, secret)
    assert event["type"] == "person.created"
    assert event["data"]["verdict"] == {"action": "allow", "risk": 0, "reasons": []}
    assert "email" not in event["data"]
