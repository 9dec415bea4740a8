"""Revocations and blocks reach every worker at once; a Redis that lost its data loses neither.

Real processes: 4 gunicorn workers on PostgreSQL and Redis. A session's
revocation state is read from Redis in each request's one round trip;
PostgreSQL stays the truth, and a Redis that was flushed (restart,
failover) is noticed and not trusted until it is rebuilt from it.
"""

import json
import os
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from protection.keys import api_key_create
from tests.support.cache import redis_forget
from tests.support.gunicorn import GunicornServer, request, server_env
from tests.support.servers import database_url

pytestmark = [pytest.mark.server, pytest.mark.redis, pytest.mark.postgres]

LOOKUP = "/api/v1/persons/lookup"


@pytest.fixture
def server(transactional_db, settings):
    env = server_env(
        database_url=database_url(),
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-test-{uuid.uuid4().hex[:12]}",
    )
    huge = "100000000/m"
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {
            "SIGNUP_LOOKUPS_PER_SESSION": 10**6,
            "SIGNUP_LOOKUP_IDENTIFIER_RATE": huge,
            "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": huge,
            "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": huge,
            "AUTO_BLOCK_RULES": [],
        }
    )
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps(
        {"lookup": {"ip": ["100000/m"], "key": ["100000/m"], "session": ["100000/m"]}}
    )
    # Keys made here must verify there: the same signing key (and pepper).
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    with GunicornServer(env=env, workers=4) as running:
        yield running


def _session(port: int, raw_key: str) -> dict[str, str]:
    status, body = request(port, "POST", "/api/v1/sessions", {}, {"X-Api-Key": raw_key})
    assert status == 201, body
    return json.loads(body)


def _lookups(port: int, raw_key: str, access: str, total: int = 40) -> Counter:
    """``total`` lookups on fresh connections: spread over every worker."""
    headers = {"X-Api-Key": raw_key, "Authorization": f"Bearer {access}"}

    def one(index: int) -> str:
        body = {"email": f"probe{index}@example.com"}
        status, content = request(port, "POST", LOOKUP, body, headers)
        return str(status) if status != 401 else json.loads(content)["code"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        return Counter(pool.map(one, range(total)))


def _flush_redis(server) -> None:
    # Only this server's keys: REDIS_URL's db may hold others' (a parallel run).
    redis_forget(os.environ["REDIS_URL"], server.env["GATEHOUSE_CACHE_PREFIX"])


def test_a_revocation_through_one_worker_is_refused_by_every_worker(server):
    _key, raw = api_key_create(name="revocation", required_verifications=[])
    tokens = _session(server.port, raw)
    assert _lookups(server.port, raw, tokens["access"]) == Counter({"200": 40})
    status, _ = request(
        server.port,
        "DELETE",
        "/api/v1/sessions/current",
        None,
        {"X-Api-Key": raw, "Authorization": f"Bearer {tokens['access']}"},
    )
    assert status == 204
    assert _lookups(server.port, raw, tokens["access"]) == Counter({"session_revoked": 40})


def test_a_flushed_redis_loses_no_revocation(server):
    _key, raw = api_key_create(name="revocation", required_verifications=[])
    revoked, live = _session(server.port, raw), _session(server.port, raw)
    assert _lookups(server.port, raw, revoked["access"], total=8) == Counter({"200": 8})
    request(
        server.port,
        "DELETE",
        "/api/v1/sessions/current",
        None,
        {"X-Api-Key": raw, "Authorization": f"Bearer {revoked['access']}"},
    )
    _flush_redis(server)  # a restart without persistence, a failover to an empty replica
    assert _lookups(server.port, raw, revoked["access"]) == Counter({"session_revoked": 40})
    assert _lookups(server.port, raw, live["access"]) == Counter({"200": 40})
    # Once rebuilt from PostgreSQL, the cache is trusted again, and still right.
    prefix = server.env["GATEHOUSE_CACHE_PREFIX"]
    assert redis.Redis.from_url(os.environ["REDIS_URL"]).keys(f"{prefix}:*gh:sessions:marks")
    assert _lookups(server.port, raw, revoked["access"]) == Counter({"session_revoked": 40})


def test_a_block_applies_to_the_next_request_on_every_worker(server, settings):
    import subprocess
    import sys

    from tests.support.paths import ROOT

    _key, raw = api_key_create(name="blocks", required_verifications=[])
    tokens = _session(server.port, raw)
    assert _lookups(server.port, raw, tokens["access"], total=16) == Counter({"200": 16})
    # Blocked as an operator would, by the command, against the same services.
    env = {**os.environ, **server.env}
    subprocess.run(
        [sys.executable, "manage.py", "block_client", "--ip", "127.0.0.1", "--for", "1h"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    # The very next requests, whichever worker takes them: refused.
    statuses = _lookups(server.port, raw, tokens["access"], total=40)
    assert statuses == Counter({"403": 40})
    # Health is never refused by an IP block (load balancers probe from anywhere).
    assert request(server.port, "GET", "/api/v1/health")[0] == 200
