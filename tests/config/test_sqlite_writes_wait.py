"""On SQLite, a write from another thread waits for a reader instead of failing.

That is how a live server (one thread per request) behaves next to the test
thread, and how ``make run`` behaves next to its outbox sender. Django's
in-memory shared-cache test database answered "database table is locked" at
once instead (SQLITE_LOCKED ignores the busy timeout): the browser tests' 503s.
"""

import threading

import pytest
from django.db import connection, transaction

from protection.keys import ApiKey, api_key_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's locking only")
def test_a_write_in_another_thread_waits_for_an_open_read():
    api_key_create(name="existing")
    outcome: list[object] = []
    reading = threading.Event()

    def write_from_another_thread() -> None:
        reading.wait()
        try:
            api_key_create(name="written meanwhile")
            outcome.append("written")
        except Exception as exc:  # the failure this test exists for
            outcome.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=write_from_another_thread)
    writer.start()
    with transaction.atomic():
        assert ApiKey.objects.count() == 1  # a read lock held by this thread
        reading.set()
        writer.join(timeout=0.5)  # the writer is waiting (or, before, had failed)
    writer.join(timeout=30)
    assert outcome == ["written"]
    assert ApiKey.objects.count() == 2
