"""What a lookup's counting call costs on one Redis, behind Sentinel and on a Cluster.

    python bench/bench_topologies.py

Starts a private Redis Cluster (3 primaries) and a Sentinel set (a primary,
a replica, three sentinels) on loopback ports, then times the call a
protected lookup makes (per-IP, two per-key and one per-session window, the
four lookup limits, three reads) through ``rate_limit_read_and_hit``, in one
process, one call at a time: wall time per call (the round trip included)
and the client's CPU time per call. On one machine every Redis process
competes for the same cores: the cluster's wall time includes waking three
servers, which separate machines would answer in parallel.
Needs redis-server and redis-cli; prints figures, asserts nothing.
"""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.pop("REDIS_URL", None)

import django  # noqa: E402

django.setup()

from django.test import override_settings  # noqa: E402

from protection.core.keyspace import owned_key  # noqa: E402
from protection.core.ratelimit import Hit, Quota, rate_limit_read_and_hit  # noqa: E402
from protection.sessions.revocation import session_state_reads  # noqa: E402
from tests.support.redistopo import (  # noqa: E402
    ClusterOfRedis,
    RedisProcess,
    SentinelOfRedis,
    free_port,
)
from tests.support.topology import cache_settings  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", "2000"))


def lookup_items(n: int) -> tuple[list, list[str]]:
    ip, key, session = f"198.51.100.{n % 200}", f"key{n % 20}", f"session-{n % 500}"
    items = [
        Hit("lookup:ip", ip, "1000000/m"),
        Hit("lookup:key", key, "1000000/m"),
        Hit("lookup:key", key, "100000000/d"),
        Hit("lookup:session", session, "1000000/m"),
        Quota(owned_key("gh:bench:lookups", owner=session), 10**9, 600),
        Hit("signup:identifier", f"id{n}", "1000000/h"),
        Hit("signup:distinct_ip", ip, "1000000/h", member=f"id{n}"),
        Hit("signup:distinct_key", key, "1000000/h", member=f"id{n}"),
    ]
    return items, [*session_state_reads(session), "gh:blocks:version"]


def measure(label: str, caches: dict) -> None:
    with override_settings(CACHES=caches, GATEHOUSE={"AUTO_BLOCK_RULES": []}):
        from django.core.cache import cache

        cache.clear()
        for n in range(200):  # connections, scripts loaded
            _call(n)
        times = []
        cpu_started = time.process_time()
        for n in range(CALLS):
            started = time.perf_counter()
            _call(n)
            times.append((time.perf_counter() - started) * 1e6)
        cpu = (time.process_time() - cpu_started) / CALLS * 1e6
        times.sort()
        print(
            f"{label:<28} wall median {statistics.median(times):6.0f} µs, "
            f"p99 {times[int(len(times) * 0.99)]:6.0f} µs; client CPU {cpu:5.0f} µs a call"
        )
        cache.clear()


def _call(n: int) -> None:
    items, reads = lookup_items(n)
    rate_limit_read_and_hit(items, reads=reads, stop_at_refusal=True, always_count=4)


def main() -> None:
    root = Path(os.environ.get("TMPDIR", "/tmp")) / f"gh-bench-single-{os.getpid()}"
    single = RedisProcess(root, free_port()).start()
    sentinel = SentinelOfRedis().start()
    cluster = ClusterOfRedis(primaries=3).start()
    try:
        measure("one Redis", cache_settings(f"redis://127.0.0.1:{single.port}/0", "single"))
        measure(
            "Sentinel (primary+replica)",
            cache_settings(sentinel.url, "sentinel", service=sentinel.service),
        )
        measure("Cluster, 3 primaries", cache_settings(cluster.url, "cluster"))
    finally:
        single.kill()
        sentinel.stop()
        cluster.stop()


if __name__ == "__main__":
    main()
