"""Webhooks end to end on a loopback receiver: emitted in the change's transaction,
delivered signed by outbox_send, retried with growing backoff, the endpoint disabled
after a day of failures; redirects never followed, every exchange bounded in time."""

import datetime
import json
import random

import pytest
from django.core.management import call_command
from django.db import transaction
from standardwebhooks import Webhook

from protection.core.events import SecurityEvent
from protection.core.outbox import OutboxMessage, outbox_send_due
from protection.webhooks import (
    WebhookEndpoint,
    webhook_endpoint_create,
    webhook_endpoint_disable,
    webhooks_emit,
)
from tests.support.receivers import Answer
from tests.support.webhooks import signature_valid

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)


def test_an_emitted_event_is_delivered_signed_by_outbox_send(endpoint, receiver):
    endpoint, secret = endpoint
    [message] = webhooks_emit("block.created", {"block_id": 7, "kind": "ip"})
    call_command("outbox_send", verbosity=0)
    [request] = receiver.received
    assert (request.method, request.path) == ("POST", "/hooks")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == message.public_id
    # The receiver verifies with the specification's own library.
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "block.created"
    assert payload["data"] == {"block_id": 7, "kind": "ip"}
    assert payload["timestamp"].endswith("Z")
    endpoint.refresh_from_db()
    assert endpoint.last_success_at is not None and endpoint.failing_since is None


def test_an_event_emitted_in_a_transaction_that_rolls_back_sends_nothing(endpoint, receiver):
    with pytest.raises(RuntimeError), transaction.atomic():
        webhooks_emit("person.created", {"person_id": "x"})
        raise RuntimeError("the create failed")
    call_command("outbox_send", verbosity=0)
    assert OutboxMessage.objects.count() == 0 and receiver.received == []


def test_only_enabled_endpoints_subscribed_to_the_event_get_it(receiver):
    blocks, _ = webhook_endpoint_create(url=f"{receiver.url}/a", event_types="block.created")
    persons, _ = webhook_endpoint_create(url=f"{receiver.url}/b", event_types="person.created")
    off, _ = webhook_endpoint_create(url=f"{receiver.url}/c", event_types="person.created")
    webhook_endpoint_disable(endpoint=off, reason="test")
    messages = webhooks_emit("person.created", {"person_id": "p1"})
    assert [m.target for m in messages] == [persons.target]
    with pytest.raises(ValueError, match="Undeclared webhook event type"):
        webhooks_emit("person.deleted", {})
    assert blocks.pk  # subscribed to something else: nothing queued for it


def test_a_failing_receiver_gets_retries_with_growing_backoff_then_the_endpoint_is_disabled(
    endpoint, receiver
):
    endpoint, secret = endpoint
    receiver.default = Answer(status=503)
    [message] = webhooks_emit("block.created", {"block_id": 1}, now=T0)
    rng, now, delays = random.Random(3), T0, []
    while True:
        outbox_send_due(now=now, rng=rng)
        message.refresh_from_db()
        if message.status != "pending":
            break
        delays.append((message.next_attempt_at - now).total_seconds())
        now = message.next_attempt_at
    # Every attempt reached the receiver, with the same id, freshly signed.
    assert len(receiver.received) == message.attempts == len(delays) + 1
    assert {r.headers["webhook-id"] for r in receiver.received} == {message.public_id}
    assert len({r.headers["webhook-timestamp"] for r in receiver.received}) == message.attempts
    assert all(signature_valid(secret, r.headers, r.body) for r in receiver.received)
    for earlier, later in zip(delays, delays[2:], strict=False):
        assert later >= min(2 * earlier, 1800)
    # After a day of failures: disabled, with an alert.
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert endpoint.last_error == "HTTP 503"
    assert endpoint.consecutive_failures == message.attempts
    assert now - T0 >= datetime.timedelta(hours=23)
    alert = SecurityEvent.objects.get(kind="webhook_endpoint_disabled")
    assert (alert.decision, alert.reason) == ("alert", "failing")
    assert alert.details["endpoint_id"] == endpoint.pk
    # What is queued for it meanwhile dies without a call.
    webhooks_emit("block.created", {"block_id": 2})
    assert not OutboxMessage.objects.filter(status="pending").exists()


def test_a_success_clears_the_failure_record(endpoint, receiver):
    endpoint, _ = endpoint
    receiver.answers = [Answer(status=500)]
    webhooks_emit("block.created", {"block_id": 1}, now=T0)
    outbox_send_due(now=T0)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == T0 and endpoint.consecutive_failures == 1
    outbox_send_due(now=T0 + datetime.timedelta(hours=1))
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.consecutive_failures == 0
    assert endpoint.enabled and len(receiver.received) == 2


def test_a_redirect_is_not_followed(endpoint, receiver):
    receiver.default = Answer(status=302, headers={"Location": f"{receiver.url}/elsewhere"})
    [message] = webhooks_emit("block.created", {"block_id": 1})
    assert outbox_send_due().retried == 1
    assert [r.path for r in receiver.received] == ["/hooks"]
    message.refresh_from_db()
    assert message.last_error == "HTTP 302: redirects are not followed"


def test_410_gone_disables_the_endpoint_at_once(endpoint, receiver):
    endpoint, _ = endpoint
    receiver.default = Answer(status=410)
    webhooks_emit("block.created", {"block_id": 1})
    assert outbox_send_due().dead == 1
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert SecurityEvent.objects.get(kind="webhook_endpoint_disabled").reason == "gone"


@pytest.mark.parametrize(
    "answer", [Answer(status=200, delay=5), Answer(status=200, drip=0.1)], ids=["silent", "drip"]
)
def test_a_slow_receiver_is_cut_off_at_the_deadline(endpoint, receiver, gatehouse, answer):
    gatehouse(WEBHOOKS_TIMEOUT=0.5)
    receiver.default = answer
    [message] = webhooks_emit("block.created", {"block_id": 1})
    assert outbox_send_due().retried == 1
    message.refresh_from_db()
    assert message.last_error == "timed out after 0.5s"


def test_an_unreachable_receiver_is_retried(gatehouse):
    gatehouse(WEBHOOKS_ALLOW_PRIVATE_TARGETS=True)
    webhook_endpoint_create(url="http://127.0.0.1:9/x", event_types="block.created")
    [message] = webhooks_emit("block.created", {"block_id": 1})
    assert outbox_send_due().retried == 1
    message.refresh_from_db()
    assert message.last_error == "connection refused"


def test_the_body_is_the_same_bytes_on_every_retry(endpoint, receiver):
    receiver.answers = [Answer(status=500)]
    [message] = webhooks_emit("key.abuse_suspected", {"api_key": "abc", "rule": "r"}, now=T0)
    outbox_send_due(now=T0)
    message.refresh_from_db()
    outbox_send_due(now=message.next_attempt_at)
    first, second = receiver.received
    assert first.body == second.body
    assert json.loads(first.body)["timestamp"] == "2030-01-01T12:00:00Z"
    assert WebhookEndpoint.objects.get().last_success_at is not None
