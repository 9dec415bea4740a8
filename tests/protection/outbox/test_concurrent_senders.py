"""Several senders on PostgreSQL share the work and never send one message twice
(SELECT … FOR UPDATE SKIP LOCKED), each on its own database connection."""

import collections
import threading
import time

import pytest
from django.db import connection

from protection.core.outbox import (
    CHANNELS,
    OutboxMessage,
    outbox_channel_register,
    outbox_enqueue,
    outbox_send_due,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_four_senders_never_send_a_message_twice():
    sent: collections.Counter[str] = collections.Counter()
    senders: dict[str, set[str]] = collections.defaultdict(set)
    lock = threading.Lock()

    def send(payload, delivery):
        time.sleep(0.005)  # hold the row lock while "sending", as a network call does
        with lock:
            sent[delivery.message_id] += 1
            senders[threading.current_thread().name].add(delivery.message_id)

    outbox_channel_register("test", send)
    try:
        messages = [outbox_enqueue(channel="test", payload={"n": n}) for n in range(120)]
        start = threading.Barrier(4)
        errors: list[BaseException] = []

        def sender() -> None:
            try:
                start.wait()
                outbox_send_due(limit=1000)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=sender, name=f"sender-{n}") for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        CHANNELS.pop("test", None)
    assert errors == []
    assert set(sent) == {message.public_id for message in messages}
    assert max(sent.values()) == 1
    assert OutboxMessage.objects.filter(status="sent").count() == 120
    # The work was shared: more than one sender took messages.
    assert sum(1 for taken in senders.values() if taken) > 1
