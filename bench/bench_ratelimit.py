"""Rate-limit benchmarks against real gunicorn workers, PostgreSQL and Redis.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_ratelimit.py

1. Admitted counts: 1,000 requests from 50 concurrent clients at an endpoint
   limited to 100/hour, with this project's limiter and with DRF's
   AnonRateThrottle (read, decide, write back: not atomic), side by side.
2. Per-call costs in one process.

Throughput of the protected lookup, side by side with the plain view, the
floor and the stack a Django team would assemble, is ``bench/bench_lookup.py``.
"""

import os
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_lookup import (  # noqa: E402
    HUGE,
    UNLIMITED_SIGNUP,
    bench_key,
    django_setup,
    require_services,
)

from tests.support.gunicorn import GunicornServer, fire, server_env  # noqa: E402

WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))


def admitted_counts(database_url: str, redis_url: str) -> None:
    env = server_env(
        database_url=database_url, redis_url=redis_url, cache_prefix=f"bench-{uuid.uuid4().hex}"
    )
    with GunicornServer(env=env, workers=WORKERS) as server:
        ours = fire(server.port, "/api/test/proof", total=1000, concurrency=50)
        drf = fire(server.port, "/api/test/drf-proof", total=1000, concurrency=50)
    print(
        f"== 1,000 requests, 50 concurrent clients, limit 100, {WORKERS} gunicorn workers, Redis =="
    )
    print(f"{'limiter':<40}{'admitted':>10}{'refused':>10}{'other':>8}")
    for name, counts in (
        ("gatehouse (Lua INCR, get_usage buckets)", ours),
        ("DRF AnonRateThrottle", drf),
    ):
        other = sum(n for status, n in counts.items() if status not in (200, 429))
        print(f"{name:<40}{counts[200]:>10}{counts[429]:>10}{other:>8}")


def _per_call_us(function, repeat: int = 300) -> float:
    function()
    started = time.perf_counter()
    for _ in range(repeat):
        function()
    return (time.perf_counter() - started) / repeat * 1e6


def _select_one() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis_ping() -> None:
    from protection.core.ratelimit.batch import redis_cache
    from protection.core.rediscache import raw_redis

    raw_redis(redis_cache()).client.ping()


def breakdown() -> None:
    """Where a protected request's time goes, in-process, one call at a time."""
    from django.conf import settings
    from django.test import override_settings

    from protection.blocks import blocks_check
    from protection.core.ratelimit import rate_limit_count_many, rate_limit_hit
    from protection.keys import api_key_verify
    from protection.sessions import session_authenticate, session_issue
    from signup.limits import lookup_limits_enforce
    from signup.persons import Person

    key, raw_key = bench_key()
    issued = session_issue(api_key=key, client_ip="127.0.0.1")
    three = [(f"bench-{dim}", dim, "x", HUGE) for dim in ("ip", "key", "session")]

    def signup_limits() -> None:
        lookup_limits_enforce(
            identifier="nobody@example.com",
            api_key=key,
            session=issued.session,
            client_ip="127.0.0.1",
        )

    print("\n== per-call cost in one process (PostgreSQL + Redis) ==")
    rows = [
        (
            "the plain view's query (Person exists)",
            lambda: Person.objects.filter(email="nobody@example.com").exists(),
        ),
        ("api_key_verify (keys, cached <= 1 s)", lambda: api_key_verify(raw_key=raw_key)),
        (
            "session_authenticate (JWT + one PK query)",
            lambda: session_authenticate(raw_token=issued.access, api_key=key),
        ),
        ("blocks_check(ip=…) (compiled, in-process)", lambda: blocks_check(ip="192.0.2.1")),
        ("one round trip to PostgreSQL (SELECT 1)", _select_one),
        ("one round trip to Redis (PING, the floor of a script call)", _redis_ping),
    ]
    for label, function in rows:
        print(f"{label:<60}{_per_call_us(function):>10.0f} us")
    counters = [
        ("one counter", lambda: rate_limit_hit(group="bench", ident="x", rate=HUGE[0])),
        ("3 counters (ip, key, session)", lambda: rate_limit_count_many(three)),
        ("a lookup's sign-up limits (4 counters)", signup_limits),
    ]
    with override_settings(GATEHOUSE={**settings.GATEHOUSE, **UNLIMITED_SIGNUP}):
        for label, function in counters:
            for batch, how in ((False, "get_usage"), (True, "Lua script")):
                with override_settings(GATEHOUSE={**settings.GATEHOUSE, "RATE_LIMIT_BATCH": batch}):
                    cost = _per_call_us(function)
                print(f"{label + ', ' + how:<60}{cost:>10.0f} us")


if __name__ == "__main__":
    database, redis = require_services()
    django_setup()
    admitted_counts(database, redis)
    breakdown()
