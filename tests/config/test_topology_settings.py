"""GATEHOUSE_REDIS_MODE, read replicas and PgBouncer from the environment (fresh interpreter)."""

import json

import pytest

from tests.support.fresh_interpreter import run_python

pytestmark = pytest.mark.subprocess  # each starts a Python process: not in make test-fast

PRINT = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'cache': s.CACHES['default'], 'databases': s.DATABASES, "
    "'routers': getattr(s, 'DATABASE_ROUTERS', []), 'gatehouse': s.GATEHOUSE}, default=str))"
)


def settings_with(**env):
    result = run_python(PRINT, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_sentinel_mode_names_the_service_and_keeps_the_url_whole():
    values = settings_with(
        REDIS_URL="redis://:pw@s1:26379,s2:26379/2",
        GATEHOUSE_REDIS_MODE="sentinel",
        GATEHOUSE_REDIS_SENTINEL_SERVICE="gatehouse",
        GATEHOUSE_REDIS_SENTINEL_PASSWORD="watch",
    )
    cache = values["cache"]
    assert cache["BACKEND"] == "protection.core.rediscache.GatehouseRedisCache"
    assert cache["LOCATION"] == "redis://:pw@s1:26379,s2:26379/2"
    assert cache["OPTIONS"]["mode"] == "sentinel"
    assert cache["OPTIONS"]["service"] == "gatehouse"
    assert cache["OPTIONS"]["sentinel_password"] == "watch"


def test_cluster_mode():
    values = settings_with(REDIS_URL="redis://n1:7000,n2:7001", GATEHOUSE_REDIS_MODE="Cluster")
    assert values["cache"]["OPTIONS"]["mode"] == "cluster"


def test_a_url_that_does_not_fit_its_mode_stops_the_start_naming_both_variables():
    for env, says in [
        ({"REDIS_URL": "redis://a:1,b:2/0"}, "GATEHOUSE_REDIS_MODE"),
        (
            {"REDIS_URL": "redis://s1:26379,s2:26379/0", "GATEHOUSE_REDIS_MODE": "sentinel"},
            "GATEHOUSE_REDIS_SENTINEL_SERVICE",
        ),
        ({"REDIS_URL": "redis://n1:7000/3", "GATEHOUSE_REDIS_MODE": "cluster"}, "database 0"),
        ({"GATEHOUSE_REDIS_MODE": "cluster"}, "needs REDIS_URL"),
        ({"REDIS_URL": "redis://n1", "GATEHOUSE_REDIS_MODE": "ring"}, "GATEHOUSE_REDIS_MODE"),
    ]:
        result = run_python(PRINT, **env)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr and says in result.stderr, result.stderr
        assert "REDIS_URL" in result.stderr or "GATEHOUSE_REDIS_MODE" in result.stderr


def test_replicas_become_mirrored_aliases_behind_the_router():
    values = settings_with(
        DATABASE_URL="postgres://u@primary.example/gatehouse",
        DATABASE_REPLICA_URLS="postgres://u@r1.example/gatehouse, postgres://u@r2.example/gatehouse",
        DATABASE_REPLICA_MAX_LAG="2.5",
        GATEHOUSE_LOOKUP_READS="primary",
    )
    databases = values["databases"]
    assert sorted(databases) == ["default", "replica_0", "replica_1"]
    assert databases["replica_1"]["HOST"] == "r2.example"
    assert databases["replica_0"]["TEST"]["MIRROR"] == "default"
    assert databases["replica_0"]["OPTIONS"]["connect_timeout"] == 1
    assert values["routers"] == ["protection.core.replicas.PrimaryRouter"]
    assert values["gatehouse"]["DATABASE_REPLICA_MAX_LAG"] == 2.5
    assert values["gatehouse"]["LOOKUP_READS"] == "primary"


def test_transaction_pooling_turns_off_server_side_cursors_and_prepared_statements():
    values = settings_with(
        DATABASE_URL="postgres://u@pgbouncer.example:6432/gatehouse",
        DATABASE_POOLING="transaction",
        DATABASE_CONN_MAX_AGE="30",
    )
    default = values["databases"]["default"]
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert default["OPTIONS"]["prepare_threshold"] is None
    assert default["CONN_MAX_AGE"] == 30
    plain = settings_with(DATABASE_URL="postgres://u@db.example/gatehouse")["databases"]["default"]
    assert "DISABLE_SERVER_SIDE_CURSORS" not in plain or not plain["DISABLE_SERVER_SIDE_CURSORS"]
