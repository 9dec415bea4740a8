"""Redis behind Sentinel (a primary, a replica, three sentinels), on real processes:
the primary is killed under traffic on 4 gunicorn workers.

- no 5xx but 503, and 503 only from the kill until the workers count in
  Redis again (a lookup's per-session quota has no per-process fallback);
- the workers find the promoted replica through the sentinels, no restart;
- afterwards a limit is exact again (admitted / limit = 1.00).
"""

import datetime
import json
import os
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from django.utils import timezone

from tests.support.gunicorn import GunicornServer, server_env
from tests.support.redistopo import SentinelOfRedis, redis_cli
from tests.support.servers import database_url
from tests.support.topology import (
    LIFTED_LOOKUP_LIMITS,
    Traffic,
    cache_settings,
    lookup,
    need_binary,
)

pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.fixture
def sentinel():
    need_binary("redis-server")
    need_binary("redis-cli")
    running = SentinelOfRedis().start()
    try:
        yield running
    finally:
        running.stop()


def test_the_cache_works_through_the_sentinels(sentinel, settings):
    settings.CACHES = cache_settings(sentinel.url, "sentinel", service=sentinel.service)
    cache = caches["default"]
    cache.set("probe", 41)
    assert cache.incr("probe") == 42
    assert cache.get_many(["probe", "absent"]) == {"probe": 42}
    cache.clear()


def test_a_revocation_mark_is_written_only_once_the_replica_has_it(sentinel, settings, db):
    from protection.sessions import revocation

    settings.CACHES = cache_settings(sentinel.url, "sentinel", service=sentinel.service)
    expires = timezone.now() + datetime.timedelta(hours=1)
    first, second = uuid.uuid4(), uuid.uuid4()
    revocation.session_revocation_publish(session_id=first, expires_at=expires)
    assert not revocation._unpublished
    assert redis_cli(sentinel.replica.port, "exists", f"gh:1:gh:session:revoked:{first}") == "1"
    # A replica that does not acknowledge (stalled): a failover now could lose
    # the mark, so it counts as unwritten, and the marks are not trusted.
    caches["default"].set("gh:sessions:marks", 1, timeout=60)
    os.kill(sentinel.replica.process.pid, signal.SIGSTOP)
    try:
        revocation.session_revocation_publish(session_id=second, expires_at=expires)
        assert revocation._unpublished
        assert caches["default"].get("gh:sessions:marks") is None
    finally:
        os.kill(sentinel.replica.process.pid, signal.SIGCONT)
    # The process's next request retries it; now the replica answers.
    revocation.session_state_reads(second)
    assert not revocation._unpublished
    assert redis_cli(sentinel.replica.port, "exists", f"gh:1:gh:session:revoked:{second}") == "1"


def test_killing_the_primary_under_traffic(
    sentinel, settings, transactional_db, make_api_key, make_session
):
    env = server_env(
        database_url=database_url(),
        redis_url=sentinel.url,
        cache_prefix=f"gh{uuid.uuid4().hex[:8]}",
    )
    env["GATEHOUSE_REDIS_MODE"] = "sentinel"
    env["GATEHOUSE_REDIS_SENTINEL_SERVICE"] = sentinel.service
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {
            **LIFTED_LOOKUP_LIMITS,
            "SIGNUP_LOOKUP_IDENTIFIER_RATE": "50/h",
            "SIGNUP_SHARED_LIMITS_OBSERVE": [],  # the identifier's limit refuses
            "RATE_LIMITS": {},
        }
    )
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    key, raw = make_api_key()
    sessions = [make_session(key, client_ip="127.0.0.1") for _ in range(8)]
    turn = iter(range(10**9))
    old_primary = sentinel.primary_port()
    with GunicornServer(env=env, workers=4) as server:

        def send():
            n = next(turn)
            return lookup(server.port, raw, sessions[n % 8].access, f"p{n}@example.com")[0]

        with Traffic(send) as traffic:
            time.sleep(2)
            killed_at = time.monotonic() - traffic.started
            sentinel.primary.kill()
            deadline = time.monotonic() + 30
            while sentinel.primary_port() == old_primary:
                assert time.monotonic() < deadline, "the sentinels promoted no replica"
                time.sleep(0.1)
            promoted_at = time.monotonic() - traffic.started
            time.sleep(8)  # the breaker's pause (5 s), then requests count in Redis again

        before = traffic.statuses(until=killed_at)
        after = traffic.statuses(since=killed_at)
        unavailable = [at for at, status in traffic.log if status == 503]
        back_at = max(unavailable, default=killed_at)
        tail = traffic.statuses(since=traffic.log[-1][0] - 2)

        # Afterwards, on the promoted primary: a limit is exact again.
        def one(index):
            return lookup(server.port, raw, sessions[index % 8].access, "grace@example.com")[0]

        with ThreadPoolExecutor(max_workers=50) as pool:
            exact = Counter(pool.map(one, range(200)))
    print(
        f"\nsentinel failover: before the kill {dict(before)}, after it {dict(after)}; "
        f"promoted {promoted_at - killed_at:.1f} s after the kill; counted in Redis again "
        f"{back_at - killed_at:.1f} s after it; then 200 parallel lookups of a 50/h "
        f"identifier: {dict(exact)} (admitted/limit = {exact[200] / 50:.2f})"
    )
    assert set(before) == {200}
    assert not [status for status in after if status >= 500 and status != 503], after
    assert after[0] == 0  # every request was answered
    assert all(at >= killed_at for at in unavailable)  # 503 only inside the window
    assert set(tail) == {200}, tail  # the new primary serves, no restart
    assert exact == Counter({200: 50, 429: 150})
