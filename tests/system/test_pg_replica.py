"""A streaming PostgreSQL replica of the test's own primary, on real processes
(initdb, pg_basebackup, two postgres servers, gunicorn with 2 workers):

- lookups read from the replica: with its replay paused, a person created on
  the primary reads as missing, and is found once the replica catches up;
- a replica lagging beyond DATABASE_REPLICA_MAX_LAG is skipped (the primary
  answers, and finds the person);
- stopping the replica under traffic costs no failed request.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter

import pytest

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.paths import ROOT
from tests.support.pgtopo import TempRoot, primary_and_replica, psql, wait_replayed
from tests.support.topology import LIFTED_LOOKUP_LIMITS, Traffic, lookup, need_binary

pytestmark = [pytest.mark.server, pytest.mark.redis]

DB = "gh_replica"


@pytest.fixture(scope="module")
def databases():
    for binary in ("initdb", "pg_basebackup", "pg_ctl", "psql"):
        need_binary(binary)
    if os.geteuid() == 0 and subprocess.run(["id", "postgres"], capture_output=True).returncode:
        pytest.skip("no postgres user to run the servers as (apt-get install postgresql-15)")
    root = TempRoot("gh-pg-replica-")
    primary = replica = None
    try:
        primary, replica = primary_and_replica(root)
        psql(primary.port, f"CREATE DATABASE {DB}")
        yield primary, replica
    finally:
        for server in (replica, primary):
            if server is not None:
                server.stop()
        root.remove()


def _env(primary, replica, **settings):
    env = server_env(
        database_url=f"postgres://postgres@127.0.0.1:{primary.port}/{DB}",
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh{uuid.uuid4().hex[:8]}",
    )
    env["DATABASE_REPLICA_URLS"] = f"postgres://postgres@127.0.0.1:{replica.port}/{DB}"
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {**LIFTED_LOOKUP_LIMITS, "RATE_LIMITS": {}, **settings}
    )
    return env


def _run(env, *args):
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def prepared(databases):
    primary, replica = databases
    env = _env(primary, replica)
    _run(env, "manage.py", "migrate", "--noinput")
    credentials = json.loads(_run(env, "-m", "tests.support.dbactions", "credentials"))
    wait_replayed(primary, replica)
    return primary, replica, credentials


def _exists(port, credentials, email):
    status, body = lookup(port, credentials["raw"], credentials["access"], email)
    assert status == 200, body
    return json.loads(body)["exists"]


def test_lookups_read_from_the_replica_and_find_a_person_once_it_catches_up(prepared):
    primary, replica, credentials = prepared
    env = _env(primary, replica, DATABASE_REPLICA_MAX_LAG=300)
    with GunicornServer(env=env, workers=2) as server:
        assert _exists(server.port, credentials, "nobody@example.com") is False
        psql(replica.port, "SELECT pg_wal_replay_pause()")
        try:
            _run(env, "-m", "tests.support.dbactions", "person", "grace@example.com")
            # Committed on the primary, not replayed on the replica: the
            # lookup, answered by the replica, does not see it yet.
            answers = Counter(
                _exists(server.port, credentials, "grace@example.com") for _ in range(20)
            )
        finally:
            psql(replica.port, "SELECT pg_wal_replay_resume()")
        wait_replayed(primary, replica)
        found = _exists(server.port, credentials, "grace@example.com")
    print(f"\nreplica paused: {answers[False]} of 20 lookups answered by the replica (missing)")
    assert answers == Counter({False: 20})
    assert found is True


def test_a_lagging_replica_is_skipped(prepared):
    primary, replica, credentials = prepared
    env = _env(primary, replica, DATABASE_REPLICA_MAX_LAG=1, DATABASE_REPLICA_CHECK_INTERVAL=0.2)
    with GunicornServer(env=env, workers=2) as server:
        psql(replica.port, "SELECT pg_wal_replay_pause()")
        try:
            _run(env, "-m", "tests.support.dbactions", "person", "ada.lag@example.com")
            time.sleep(2.5)  # now more than a second behind the primary
            answers = Counter(
                _exists(server.port, credentials, "ada.lag@example.com") for _ in range(10)
            )
        finally:
            psql(replica.port, "SELECT pg_wal_replay_resume()")
    assert answers == Counter({True: 10})  # the primary answered


def test_stopping_the_replica_under_traffic_costs_no_request(prepared):
    primary, replica, credentials = prepared
    env = _env(primary, replica)
    with GunicornServer(env=env, workers=2) as server:
        send = lambda: lookup(server.port, credentials["raw"], credentials["access"])[0]  # noqa: E731
        try:
            with Traffic(send, threads=4) as traffic:
                time.sleep(1.5)
                stopped_at = time.monotonic() - traffic.started
                replica.stop()
                time.sleep(3)
        finally:
            replica.start()
        during = traffic.statuses(since=stopped_at)
    print(f"\nreplica stopped under traffic: {dict(traffic.statuses())}")
    assert set(traffic.statuses()) == {200}
    assert during[200] > 0
