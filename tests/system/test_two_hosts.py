"""Beyond one machine: two app hosts (network namespaces, each with its own
gunicorn from ``config/gunicorn.conf.py``) sharing one PostgreSQL and one Redis.

- a limit holds exactly across both hosts;
- a session revoked through host A, or a client blocked through host A's
  ``manage.py``, is refused on host B on the next request;
- Redis restarting empty in the middle of traffic on both hosts gives no 500
  and loses no revocation.
"""

import http.client
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.gunicorn import ROOT, server_env
from tests.support.netns import PrivateRedis, app_hosts, netns_available
from tests.support.nginx import free_port
from tests.support.servers import database_url, url_address, url_via

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis, pytest.mark.netns]

CLIENT = "198.51.100.77"  # what the trusted hop says the client is, on both hosts
LIFTED_LIMITS = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**6,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": "1000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": "1000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": "1000000/h",
}


def call(host, method, path, body=None, headers=None, client=CLIENT):
    conn = http.client.HTTPConnection(host.address, host.port, timeout=10)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", "X-Forwarded-For": client}
        conn.request(method, path, body=payload, headers={**all_headers, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def cluster(transactional_db, settings, request):
    if not netns_available():
        if os.environ.get("CI"):
            pytest.fail("the two-host test needs root and the ip tool; CI runs as root")
        pytest.skip("needs root (network namespaces)")
    extra = getattr(request, "param", {})
    redis = PrivateRedis(free_port()).start()
    env = server_env(
        database_url=database_url(),
        redis_url="redis://unused",  # each host gets its own forwarded address
        cache_prefix=f"gh-hosts-{uuid.uuid4().hex[:8]}",
    )
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"  # the root side (10.213.x.1) is the trusted hop
    env["GATEHOUSE_TRUSTED_PROXY_NETWORKS"] = "10.213.0.0/16"
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps({"proof": {"ip": ["50/h"]}})
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps({**LIFTED_LIMITS, **extra})
    # Keys and tokens made by the test must verify on the hosts.
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    database_host, database_port = url_address(database_url(), 5432)
    try:
        with app_hosts(
            count=2,
            env=env,
            database_host=database_host,
            database_port=database_port,
            redis_port=redis.port,
        ) as hosts:
            yield hosts, redis, env
    finally:
        redis.stop()


def test_a_limit_holds_exactly_across_both_hosts(cluster):
    (a, b), _, _ = cluster

    def one(index: int) -> int:
        return call(a if index % 2 else b, "POST", "/api/test/proof", {})[0]

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = Counter(pool.map(one, range(200)))
    assert statuses == Counter({200: 50, 429: 150})


def _lookup(host, raw_key, access):
    return call(
        host, "POST", "/api/v1/persons/lookup", {"email": "ada@example.com"},
        {"X-Api-Key": raw_key, "Authorization": f"Bearer {access}"},
    )  # fmt: skip


def test_revocation_and_block_through_one_host_are_refused_on_the_other(
    cluster, make_api_key, make_session
):
    (a, b), _, env = cluster
    key, raw = make_api_key()
    issued = make_session(key, client_ip=CLIENT)
    assert _lookup(b, raw, issued.access)[0] == 200
    bearer = {"X-Api-Key": raw, "Authorization": f"Bearer {issued.access}"}
    assert call(a, "DELETE", "/api/v1/sessions/current", None, bearer)[0] == 204
    status, body = _lookup(b, raw, issued.access)
    assert status == 401 and json.loads(body)["code"] == "session_revoked"

    other = make_session(key, client_ip="198.51.100.88")
    assert _lookup(b, raw, other.access)[0] == 200  # B has loaded its block list
    for _attempt in range(3):
        # Retried: on a loaded machine the test's own forwarder may drop a
        # connection (a new one per command); the block itself is what is tested.
        blocked = subprocess.run(
            ["ip", "netns", "exec", a.name, sys.executable, "manage.py", "block_client",
             "--ip", "198.51.100.88", "--for", "1h"],
            cwd=ROOT, env={**os.environ, **env, "DATABASE_URL": database_url_for(a, env),
                           "REDIS_URL": redis_url_for(a)},
            capture_output=True, text=True,
        )  # fmt: skip
        if blocked.returncode == 0:
            break
    assert blocked.returncode == 0, blocked.stderr[-3000:]
    status, body = call(
        b, "POST", "/api/v1/persons/lookup", {"email": "ada@example.com"},
        {"X-Api-Key": raw, "Authorization": f"Bearer {other.access}"}, client="198.51.100.88",
    )  # fmt: skip
    assert status == 403 and json.loads(body)["code"] == "blocked"


def database_url_for(host, env) -> str:
    return url_via(database_url(), host=host.gateway, port=host.proxies[0].port)


def redis_url_for(host) -> str:
    return f"redis://{host.gateway}:{host.proxies[1].port}/0"


# No rate limits here: every answer must then come from authentication, so a
# revocation lost with Redis would show as a 200.
@pytest.mark.parametrize("cluster", [{"RATE_LIMITS": {}}], indirect=True)
def test_redis_restarting_empty_mid_traffic_gives_no_500_and_loses_no_revocation(
    cluster, make_api_key, make_session
):
    (a, b), redis, _ = cluster
    key, raw = make_api_key()
    sessions = [make_session(key, client_ip=CLIENT) for _ in range(4)]
    revoked = sessions[0]
    statuses: Counter = Counter()
    after_revocation: Counter = Counter()
    revoked_at = threading.Event()
    stop = threading.Event()

    def traffic(worker: int) -> None:
        n = 0
        while not stop.is_set():
            session = sessions[n % len(sessions)]
            host = (a, b)[(worker + n) % 2]
            # Decided before sending: a request already in flight when the
            # revocation commits may rightly still be answered 200.
            sent_after_revocation = revoked_at.is_set()
            status = _lookup(host, raw, session.access)[0]
            statuses[status] += 1
            if session is revoked and sent_after_revocation:
                after_revocation[status] += 1
            n += 1

    threads = [threading.Thread(target=traffic, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        bearer = {"X-Api-Key": raw, "Authorization": f"Bearer {revoked.access}"}
        assert call(a, "DELETE", "/api/v1/sessions/current", None, bearer)[0] == 204
        revoked_at.set()
        time.sleep(1.0)
        redis.restart()  # every counter, cached key and block version is gone
        time.sleep(3.0)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert statuses[500] == 0, statuses
    assert sum(statuses.values()) > 50
    # The revoked session was refused on both hosts before and after Redis came back empty.
    assert set(after_revocation) == {401}, after_revocation
    for host in (a, b):
        assert _lookup(host, raw, revoked.access)[0] == 401
        # A worker that saw Redis fail leaves it alone for RATE_LIMIT_CACHE_RETRY_AFTER
        # (5 s; a lookup's per-session quota cannot be kept meanwhile: 503), then
        # serves again: every worker of both hosts is back within that pause.
        deadline = time.monotonic() + 10
        while (status := _lookup(host, raw, sessions[1].access)[0]) == 503:
            assert time.monotonic() < deadline, "the host never recovered"
            time.sleep(0.5)
        assert status == 200
