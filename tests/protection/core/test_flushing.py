"""Denials added up in memory are written when the process idles and when it exits
(issue 23, point 7): before, only the next request wrote them."""

import time

import pytest
from django.db.models import Sum

from protection.core.events import SecurityEvent, event_record
from protection.core.events.record import denial_writer
from protection.core.flushing import (
    process_flush_all,
    process_flusher_start,
    process_flusher_stop,
)


@pytest.fixture
def aggregating(settings):
    # Every denial is added up (no write budget), written as counted rows.
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "EVENTS_MAX_WRITES_PER_SECOND": 0,
        "EVENTS_FLUSH_INTERVAL": 0.2,
    }


def _deny(count: int) -> None:
    for index in range(count):
        event_record(
            kind="rate_limited",
            decision="deny",
            reason="proof:ip",
            client_ip=f"198.51.100.{index % 3}",
        )


def _written() -> int:
    return SecurityEvent.objects.filter(kind="rate_limited").aggregate(n=Sum("count"))["n"] or 0


@pytest.mark.django_db(transaction=True)
def test_the_idle_timer_writes_pending_denials_without_any_request(aggregating):
    _deny(7)
    assert _written() == 0 and denial_writer.pending
    process_flusher_start()
    try:
        deadline = time.monotonic() + 5
        while _written() < 7 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process_flusher_stop()
    assert _written() == 7
    assert not denial_writer.pending


@pytest.mark.django_db
def test_the_exit_flush_writes_what_is_pending_however_recent(aggregating, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "EVENTS_FLUSH_INTERVAL": 3600}
    _deny(5)
    assert _written() == 0
    written = process_flush_all()
    assert written["denials"] >= 1
    assert _written() == 5
