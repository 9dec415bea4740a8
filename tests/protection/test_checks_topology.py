"""System checks of the topologies: the same parser as the settings, and what a cluster forbids."""

from protection.checks_topology import check_redis_topology, check_replicas
from tests.support.topology import cache_settings


def ids(messages):
    return [message.id for message in messages]


def test_a_good_configuration_has_no_finding(settings):
    settings.CACHES = cache_settings("redis://n1:7000,n2:7001", "cluster")
    assert check_redis_topology(None) == []
    assert check_replicas(None) == []


def test_a_url_that_does_not_fit_its_mode(settings):
    settings.CACHES = cache_settings("redis://s1:26379,s2:26379/0", "sentinel")
    messages = check_redis_topology(None)
    assert ids(messages) == ["protection.E180"]
    assert "GATEHOUSE_REDIS_SENTINEL_SERVICE" in messages[0].msg


def test_a_brace_in_the_prefix_and_batch_off_on_a_cluster(settings):
    settings.CACHES = cache_settings("redis://n1:7000", "cluster")
    settings.CACHES["default"]["KEY_PREFIX"] = "gh{prod}"
    settings.GATEHOUSE = {**settings.GATEHOUSE, "RATE_LIMIT_BATCH": False}
    assert ids(check_redis_topology(None)) == ["protection.E181", "protection.W180"]


def test_replica_settings(settings):
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "LOOKUP_READS": "replicas",
        "DATABASE_REPLICA_MAX_LAG": 0,
        "DATABASE_REPLICA_CHECK_INTERVAL": "1",
    }
    assert ids(check_replicas(None)) == ["protection.E182", "protection.E183", "protection.E183"]


def test_replicas_without_the_router(settings, monkeypatch):
    monkeypatch.setattr("protection.checks_topology.replica_aliases", lambda: ["replica_0"])
    settings.DATABASE_ROUTERS = []
    assert ids(check_replicas(None)) == ["protection.W181"]
