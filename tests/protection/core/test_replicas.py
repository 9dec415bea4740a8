"""The lookup's read goes to a healthy replica; a failing one costs no request."""

import pytest
from django.db import OperationalError

from protection.core import replicas
from protection.core.events import SecurityEvent
from protection.core.replicas import PrimaryRouter, replica_read, replica_read_alias

pytestmark = pytest.mark.django_db


@pytest.fixture
def one_replica(monkeypatch):
    monkeypatch.setattr(replicas, "replica_aliases", lambda: ["replica_0"])
    health = {"replica_0": True}
    measured = []

    def measure(alias):
        measured.append(alias)
        return health[alias]

    monkeypatch.setattr(replicas, "_measure", measure)
    return health, measured


def test_without_replicas_the_primary_answers():
    assert replica_read_alias() == "default"
    assert replica_read(lambda: 42) == 42


def test_a_healthy_replica_answers_and_the_router_sends_the_read_there(one_replica):
    seen = []
    router = PrimaryRouter()
    assert replica_read(lambda: seen.append(router.db_for_read(None)) or "ok") == "ok"
    assert seen == ["replica_0"]
    # Everything else, reads and writes, goes to the primary.
    assert router.db_for_read(None) == "default"
    assert router.db_for_write(None) == "default"
    assert router.allow_migrate("replica_0", "signup") is False


def test_lookup_reads_primary_keeps_the_replica_out(one_replica, settings):
    settings.GATEHOUSE = {**settings.GATEHOUSE, "LOOKUP_READS": "primary"}
    assert replica_read_alias() == "default"


def test_the_lag_is_measured_at_most_once_per_interval(one_replica):
    _health, measured = one_replica
    for _ in range(5):
        replica_read_alias()
    assert measured == ["replica_0"]


def test_an_unhealthy_replica_is_skipped(one_replica):
    health, _ = one_replica
    health["replica_0"] = False
    assert replica_read_alias() == "default"


def test_a_replica_failing_mid_read_is_read_again_on_the_primary_with_one_alert(one_replica):
    router = PrimaryRouter()

    def read():
        if router.db_for_read(None) == "replica_0":
            raise OperationalError("server closed the connection unexpectedly")
        return "from the primary"

    assert replica_read(read) == "from the primary"
    replicas._health.checked.clear()  # the next check would find it healthy again
    assert replica_read(read) == "from the primary"
    alerts = SecurityEvent.objects.filter(kind="replica_unavailable")
    assert [(a.decision, a.reason, a.details["replica"]) for a in alerts] == [
        ("alert", "down", "replica_0")
    ]  # once a minute per process, not once per failure
