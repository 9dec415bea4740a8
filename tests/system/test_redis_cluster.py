"""On a real Redis Cluster (3 primaries, each with a replica), on real processes:

- a lookup is still one round trip: one script per hash slot, every node
  written to before any answer is read;
- limits are exact across 4 gunicorn workers (admitted / limit = 1.00), for
  a limit of one owner and for one counted after other owners' limits (where
  a refusal elsewhere takes back what was counted);
- a session revoked through one worker is refused on the next request;
- losing a primary under traffic gives no 5xx, and the cluster's promoted
  replica serves again without a restart.
"""

import json
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from tests.support.gunicorn import GunicornServer, fire, server_env
from tests.support.redistopo import ClusterOfRedis
from tests.support.servers import database_url
from tests.support.topology import (
    LIFTED_LOOKUP_LIMITS,
    Traffic,
    cache_settings,
    call,
    lookup,
    need_binary,
)

pytestmark = [pytest.mark.server, pytest.mark.postgres]


@pytest.fixture(scope="module")
def cluster():
    need_binary("redis-server")
    need_binary("redis-cli")
    running = ClusterOfRedis(primaries=3, replicas=1).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def on_cluster(cluster, settings):
    settings.CACHES = cache_settings(cluster.url, "cluster")
    caches["default"].clear()
    yield cluster
    caches["default"].clear()


def _gunicorn_env(cluster, settings, **gatehouse):
    env = server_env(
        database_url=database_url(), redis_url=cluster.url, cache_prefix=f"gh{uuid.uuid4().hex[:8]}"
    )
    env["GATEHOUSE_REDIS_MODE"] = "cluster"
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(gatehouse)
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps({"proof": {"ip": ["50/h"]}})
    settings.GATEHOUSE = {**settings.GATEHOUSE, "SIGNING_KEY": env["GATEHOUSE_SIGNING_KEY"]}
    return env


def test_a_lookup_is_one_round_trip_one_script_per_slot(
    on_cluster, settings, monkeypatch, make_api_key, make_session
):
    from redis.connection import AbstractConnection as Connection

    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "AUTO_BLOCK_RULES": [],
        "RATE_LIMITS": {"lookup": {"ip": ["100/m"], "key": ["100/m"], "session": ["50/m"]}},
    }
    key, raw = make_api_key()
    issued = make_session(key, client_ip="203.0.113.7")
    client = APIClient()
    headers = {
        "HTTP_X_API_KEY": raw,
        "HTTP_AUTHORIZATION": f"Bearer {issued.access}",
        "REMOTE_ADDR": "203.0.113.7",
    }

    def one():
        return client.post(
            "/api/v1/persons/lookup", {"email": "ada@example.com"}, format="json", **headers
        )

    assert one().status_code == 200  # warms the key cache, rebuilds the marks
    events = []
    real_send = Connection.send_packed_command
    real_read = Connection.read_response

    def send(self, command, *args, **kwargs):
        packed = b"".join(command) if isinstance(command, list | tuple) else command
        events.append(("send", packed.count(b"EVALSHA"), self.port))
        return real_send(self, command, *args, **kwargs)

    def read(self, *args, **kwargs):
        events.append(("read", 0, self.port))
        return real_read(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "send_packed_command", send)
    monkeypatch.setattr(Connection, "read_response", read)
    response = one()
    assert response.status_code == 200
    sends = [event for event in events if event[0] == "send"]
    reads = [event for event in events if event[0] == "read"]
    scripts = sum(count for _, count, _ in sends)
    # Every node is written to before any answer is read: one round-trip
    # time. Each answer is a script's (no other command was sent).
    assert events.index(reads[0]) > events.index(sends[-1])
    assert len(reads) == scripts
    assert len(sends) == len({port for _, _, port in sends}) <= 3  # one write per node
    print(f"\nlookup on a 3-primary cluster: {scripts} scripts (slots) to {len(sends)} nodes, "
          "all written before any answer is read")  # fmt: skip
    assert 2 <= scripts <= 8


def test_what_is_counted_after_a_refusal_in_another_slot_is_taken_back(on_cluster):
    from protection.core.keyspace import owned_key
    from protection.core.ratelimit import Claim, Hit, Quota, rate_limit_read_and_hit

    def once():
        return rate_limit_read_and_hit(
            [
                Hit("t:ip", "192.0.2.1", "2/m"),  # always counted
                Hit("t:key", "key-1", "5/m"),
                Hit("t:distinct", "192.0.2.1", "9/m", member="m1"),
                Quota(owned_key("t:quota", owner="session-1"), 10, 60),
                Claim(owned_key("t:jti", owner="session-1"), 60),
            ],
            stop_at_refusal=True,
            always_count=1,
        )[1]

    assert [r.count for r in once()] == [1, 1, 1, 1, 1]
    assert [r.count for r in once()] == [2, 2, 1, 2, 2]  # the claim is taken: refused
    refused = once()  # the IP's third: refused first, nothing after it counts
    assert [r.count for r in refused] == [3]
    # Every other slot counted in parallel; all of it was taken back.
    peek = rate_limit_read_and_hit(
        [
            Hit("t:key", "key-1", "5/m", increment=False),
            Quota(owned_key("t:quota", owner="session-1"), 10, 60),
        ]
    )[1]
    assert [r.count for r in peek] == [2, 3]


def test_identity_counters_count_on_success_and_are_refunded_on_a_cluster(on_cluster):
    from protection.core.ratelimit import Hit, Refund, rate_limit_read_and_hit

    def attempt(ip="192.0.2.1"):
        """An endpoint's per-IP count, then a mailbox's and a device's conditional
        ones (other owners, so other slots), as the gate orders them."""
        return rate_limit_read_and_hit(
            [
                Hit("t:ip", ip, "3/m"),
                Hit("t:mailbox", "mailbox-1", "2/d", conditional=True),
                Hit("t:device", "device-1", "9/d", conditional=True),
            ],
            stop_at_refusal=True,
            always_count=1,
        )[1]

    def peek():
        return [
            r.count
            for r in rate_limit_read_and_hit(
                [
                    Hit("t:mailbox", "mailbox-1", "2/d", increment=False),
                    Hit("t:device", "device-1", "9/d", increment=False),
                ]
            )[1]
        ]

    first = attempt()
    assert [r.count for r in first] == [1, 1, 1]
    assert [r.count for r in attempt()] == [2, 2, 2]
    over = attempt()  # the mailbox is full: reported over, not counted, and
    assert [r.count for r in over] == [3, 3]  # the device after it is not counted
    assert peek() == [2, 2]  # (its slot counted in parallel: taken back)
    # A refusal in an earlier slot (the IP's) leaves every later slot as it was.
    assert [r.count for r in attempt()] == [4]
    assert peek() == [2, 2]
    # A failed request gives back what it counted: the budget has room again.
    rate_limit_read_and_hit([Refund(Hit("t:mailbox", "mailbox-1", "2/d"), first[1].window)])
    assert peek() == [1, 2]
    assert [r.count for r in attempt("192.0.2.2")] == [1, 2, 3]


def test_limits_are_exact_across_four_workers(
    cluster, settings, transactional_db, make_api_key, make_session
):
    rates = {"proof": {"ip": ["50/h"]}, "lookup": {"ip": ["100000/h"], "key": ["100000/h"]}}
    env = _gunicorn_env(
        cluster, settings, **{**LIFTED_LOOKUP_LIMITS, "SIGNUP_LOOKUP_IDENTIFIER_RATE": "50/h"},
        RATE_LIMITS=rates, SIGNUP_SHARED_LIMITS_OBSERVE=[],  # the identifier's limit refuses
    )  # fmt: skip
    key, raw = make_api_key()
    sessions = [make_session(key, client_ip="127.0.0.1") for _ in range(4)]
    with GunicornServer(env=env, workers=4) as server:
        # One owner: the client's IP.
        statuses = fire(server.port, "/api/test/proof", total=200, concurrency=50)
        assert statuses == Counter({200: 50, 429: 150})

        # The identifier's limit, counted after the IP's, the key's and the
        # sessions' (other slots): exactly 50 of 200 for the same identifier.
        def one(index):
            return lookup(server.port, raw, sessions[index % 4].access, "grace@example.com")[0]

        with ThreadPoolExecutor(max_workers=50) as pool:
            lookups = Counter(pool.map(one, range(200)))
    print(f"\ncluster: proof {dict(statuses)}, lookups {dict(lookups)}: admitted/limit = "
          f"{statuses[200] / 50:.2f} and {lookups[200] / 50:.2f}")  # fmt: skip
    assert lookups == Counter({200: 50, 429: 150})


def test_a_revoked_session_is_refused_on_the_next_request(
    cluster, settings, transactional_db, make_api_key, make_session
):
    env = _gunicorn_env(cluster, settings, **LIFTED_LOOKUP_LIMITS, RATE_LIMITS={})
    key, raw = make_api_key()
    issued = make_session(key, client_ip="127.0.0.1")
    with GunicornServer(env=env, workers=4) as server:
        for _ in range(8):  # every worker has read the marks
            assert lookup(server.port, raw, issued.access)[0] == 200
        bearer = {"X-Api-Key": raw, "Authorization": f"Bearer {issued.access}"}
        assert call(server.port, "DELETE", "/api/v1/sessions/current", None, bearer)[0] == 204
        after = Counter(lookup(server.port, raw, issued.access)[0] for _ in range(12))
    assert after == Counter({401: 12})


def test_losing_a_primary_under_traffic_gives_no_5xx(
    cluster, settings, transactional_db, make_api_key, make_session
):
    env = _gunicorn_env(cluster, settings, **LIFTED_LOOKUP_LIMITS, RATE_LIMITS={})
    key, raw = make_api_key()
    sessions = [make_session(key, client_ip="127.0.0.1") for _ in range(8)]
    turn = iter(range(10**9))
    with GunicornServer(env=env, workers=4) as server:
        send = lambda: lookup(server.port, raw, sessions[next(turn) % 8].access)[0]  # noqa: E731
        with Traffic(send) as traffic:
            time.sleep(2)
            victim = cluster.primary_ports()[0]
            killed_at = time.monotonic() - traffic.started
            cluster.node(victim).kill()
            deadline = time.monotonic() + 30
            while victim in cluster.primary_ports() or not cluster.healthy():
                assert time.monotonic() < deadline, "no replica was promoted"
                time.sleep(0.2)
            promoted_at = time.monotonic() - traffic.started
            time.sleep(8)  # the breaker's pause (5 s) and then some
        before = traffic.statuses(until=killed_at)
        during = traffic.statuses(since=killed_at)
        last_503 = max((at for at, status in traffic.log if status == 503), default=killed_at)
        tail = traffic.statuses(since=traffic.log[-1][0] - 2)
    print(
        f"\ncluster primary loss: before {dict(before)}, after the kill {dict(during)}; "
        f"replica promoted {promoted_at - killed_at:.1f} s after the kill, last 503 "
        f"{last_503 - killed_at:.1f} s after it"
    )
    assert before[200] > 0 and set(before) == {200}
    assert not any(500 <= status < 600 and status != 503 for status in during)
    assert during[0] == 0  # every request was answered
    assert set(tail) == {200}, tail  # served from the promoted replica, no restart
