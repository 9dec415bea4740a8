"""A skipped message: written like any other (same table, same work for the
request) but finished at once and never sent; purged like a sent one."""

import datetime

import pytest
from django.utils import timezone

from protection.core.outbox import (
    OutboxMessage,
    outbox_enqueue,
    outbox_payload_digest,
    outbox_purge_expired,
    outbox_send_due,
)

pytestmark = pytest.mark.django_db


def test_a_skipped_message_keeps_a_digest_and_is_never_sent(settings):
    payload = {"to": "owner@example.com", "template": "t", "context": {}, "language": None}
    message = outbox_enqueue(channel="mail", payload=payload, topic="t", skip="told today already")
    assert message.status == OutboxMessage.Status.SKIPPED
    assert message.payload == {} and message.payload_digest == outbox_payload_digest(payload)
    assert message.last_error == "told today already" and message.finished_at is not None
    assert outbox_send_due().attempted == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxMessage.Status.SKIPPED, 0)


def test_skipped_messages_are_purged_with_the_finished_ones():
    old = timezone.now() - datetime.timedelta(days=30)
    outbox_enqueue(channel="mail", payload={"to": "a@example.com"}, skip="x", now=old)
    outbox_enqueue(channel="mail", payload={"to": "b@example.com"}, now=old)  # still pending
    assert outbox_purge_expired() == 1
    assert list(OutboxMessage.objects.values_list("status", flat=True)) == ["pending"]
