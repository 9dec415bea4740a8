"""The outbox end to end: written with the change, sent by outbox_send, retried
with growing backoff, given up at the channel's horizon, scrubbed once done."""

import datetime
import random
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from protection.core.outbox import (
    OutboxMessage,
    PermanentDeliveryError,
    RetryableDeliveryError,
    outbox_channel_register,
    outbox_enqueue,
    outbox_payload_digest,
    outbox_purge_expired,
    outbox_run,
    outbox_send_due,
)
from protection.core.outbox.mail import outbox_mail_enqueue

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2030, 1, 1, 12, 0, tzinfo=datetime.UTC)


def _mail(**overrides):
    fields = {"to": "ada@example.com", "template": "signup/mail/signup_attempt_notice"}
    fields.update(overrides)
    return outbox_mail_enqueue(context={"service_name": "Example"}, **fields)


def test_a_message_queued_in_a_transaction_that_rolls_back_is_never_sent():
    with pytest.raises(RuntimeError), transaction.atomic():
        _mail()
        raise RuntimeError("the change failed")
    call_command("outbox_send", verbosity=0)
    assert OutboxMessage.objects.count() == 0
    assert mail.outbox == []


def test_outbox_send_delivers_what_is_due_and_exits(capsys):
    message = _mail()
    call_command("outbox_send")
    assert capsys.readouterr().out.strip() == "sent 1, retried later 0, gave up 0"
    assert [sent.to for sent in mail.outbox] == [["ada@example.com"]]
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 1 and message.finished_at


def test_a_sent_message_keeps_a_digest_of_its_payload_not_the_payload():
    message = _mail()
    payload = dict(message.payload)
    outbox_send_due()
    message.refresh_from_db()
    assert message.payload == {}
    assert message.payload_digest == outbox_payload_digest(payload)
    assert "ada@example.com" not in str(OutboxMessage.objects.values().get())


def test_nothing_is_sent_before_it_is_due(scripted):
    outbox_enqueue(channel="test", payload={"n": 1}, now=T0)
    assert outbox_send_due(now=T0 - datetime.timedelta(seconds=1)).attempted == 0
    assert outbox_send_due(now=T0).sent == 1
    assert scripted.attempts[0][0] == {"n": 1}


def test_failures_are_retried_with_growing_backoff_until_the_horizon(scripted, gatehouse):
    gatehouse(OUTBOX_GIVE_UP_AFTER={"test": 24 * 3600})
    scripted.always = RetryableDeliveryError("HTTP 503")
    message = outbox_enqueue(channel="test", payload={}, now=T0)
    rng = random.Random(7)
    now, delays = T0, []
    while True:
        outbox_send_due(now=now, rng=rng)
        message.refresh_from_db()
        if message.status != "pending":
            break
        delays.append((message.next_attempt_at - now).total_seconds())
        now = message.next_attempt_at
    assert message.status == "dead" and message.last_error == "HTTP 503"
    assert message.attempts == len(scripted.attempts) == len(delays) + 1
    # Equal jitter: a delay is at least half its ceiling, the ceiling doubles,
    # so two steps later the delay has at least doubled, until the cap (1 h).
    assert 15 <= delays[0] <= 30
    for earlier, later in zip(delays, delays[2:], strict=False):
        assert later >= min(2 * earlier, 1800)
    assert max(delays) <= 3600
    # Retried for the whole day, never past it.
    assert now - T0 > datetime.timedelta(hours=22)
    assert scripted.attempts[-1][1].now < T0 + datetime.timedelta(hours=24)
    assert scripted.outcomes[-1] == ("dead", "HTTP 503")


def test_a_permanent_failure_gives_up_at_once(scripted):
    scripted.failures = [PermanentDeliveryError("recipient refused (550)")]
    message = outbox_enqueue(channel="test", payload={"to": "x"}, now=T0)
    report = outbox_send_due(now=T0)
    message.refresh_from_db()
    assert (report.dead, message.status, message.attempts) == (1, "dead", 1)
    assert message.last_error == "recipient refused (550)" and message.payload == {}


def test_a_receivers_retry_after_is_honoured(scripted):
    scripted.failures = [RetryableDeliveryError("HTTP 429", retry_after=600)]
    message = outbox_enqueue(channel="test", payload={}, now=T0)
    outbox_send_due(now=T0)
    message.refresh_from_db()
    assert message.next_attempt_at == T0 + datetime.timedelta(seconds=600)


def test_an_unexpected_exception_in_a_channel_is_retried_not_lost(scripted, caplog):
    scripted.failures = [KeyError("bug")]
    message = outbox_enqueue(channel="test", payload={}, now=T0)
    assert outbox_send_due(now=T0).retried == 1
    message.refresh_from_db()
    assert message.status == "pending" and "KeyError" in message.last_error
    assert "outbox channel test raised" in caplog.text
    later = message.next_attempt_at
    assert outbox_send_due(now=later).sent == 1


def test_a_message_is_not_sent_after_its_own_end(scripted):
    message = outbox_enqueue(
        channel="test", payload={}, now=T0, not_after=T0 + datetime.timedelta(minutes=15)
    )
    assert outbox_send_due(now=T0 + datetime.timedelta(minutes=16)).dead == 1
    message.refresh_from_db()
    assert message.status == "dead" and message.last_error == "expired before it could be sent"
    assert scripted.attempts == []


def test_enqueue_refuses_unknown_channels_and_payloads_that_are_not_json():
    with pytest.raises(ValueError, match="No outbox channel 'fax'"):
        outbox_enqueue(channel="fax", payload={})
    with pytest.raises(ValueError, match="plain JSON"):
        outbox_enqueue(channel="mail", payload={"when": timezone.now()})


def test_purge_expired_deletes_finished_messages_after_the_keep_time(scripted, gatehouse):
    gatehouse(OUTBOX_KEEP_FOR=3600)
    old = outbox_enqueue(channel="test", payload={}, now=T0)
    pending = outbox_enqueue(channel="test", payload={}, now=T0 + datetime.timedelta(days=1))
    outbox_send_due(now=T0)
    assert outbox_purge_expired(now=T0 + datetime.timedelta(minutes=59)) == 0
    assert outbox_purge_expired(now=T0 + datetime.timedelta(minutes=61)) == 1
    assert list(OutboxMessage.objects.all()) == [pending]
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()


def test_purge_expired_command_reports_outbox_messages(capsys):
    call_command("purge_expired")
    assert "outbox messages: 0 removed" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_the_loop_sends_as_messages_arrive_and_stops_when_told(scripted, gatehouse):
    gatehouse(OUTBOX_POLL_INTERVAL=0.05)
    stop = threading.Event()
    sent = threading.Event()
    scripted_send = scripted.send

    def send_and_stop(payload, delivery):
        scripted_send(payload, delivery)
        sent.set()

    outbox_channel_register("test", send_and_stop)
    outbox_enqueue(channel="test", payload={"n": 1})
    result = {}

    def run() -> None:  # a thread has its own database connection: close it
        try:
            result["total"] = outbox_run(stop=stop)
        finally:
            connection.close()

    runner = threading.Thread(target=run)
    runner.start()
    assert sent.wait(10)
    stop.set()
    runner.join(10)
    assert not runner.is_alive()
    assert result["total"].sent == 1
