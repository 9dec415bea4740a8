"""Cost of verifying an API key per request, in microseconds.

    /work/main/.venv/bin/python bench/bench_keys.py [iterations]

Runs against DATABASE_URL when set (the key it creates is deleted at the end),
else against a throw-away SQLite file. Prints µs per call for: parsing alone,
a malformed key (refused offline), a verify served from the per-process cache
(target < 50 µs), and a verify that misses the cache (one indexed lookup).
Denials also write a SecurityEvent; the figures below are for the key checks,
so the malformed case is measured on parse_raw_key alone.
"""

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
if not os.environ.get("DATABASE_URL"):
    os.environ["GATEHOUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="gatehouse-bench-")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from protection.base import crypto  # noqa: E402
from protection.core.events import SecurityEvent  # noqa: E402
from protection.keys import ApiKey, api_key_create, api_key_verify, verified_keys  # noqa: E402


def per_call_us(fn: Callable[[], object], iterations: int, rounds: int = 5) -> float:
    """Median over rounds of the mean µs per call."""
    results = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            fn()
        results.append((time.perf_counter_ns() - start) / iterations / 1000)
    return statistics.median(results)


def main() -> None:
    iterations = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    call_command("migrate", verbosity=0)
    api_key, raw = api_key_create(name="bench", allowed_origins=["https://app.example"])
    secret = crypto.parse_raw_key(raw).secret
    malformed = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    try:
        api_key_verify(raw_key=raw)  # warm up, and write last_used_at once

        def miss() -> None:
            verified_keys.clear()
            api_key_verify(raw_key=raw, origin="https://app.example")

        figures = {
            "parse_raw_key (well-formed)": per_call_us(
                lambda: crypto.parse_raw_key(raw), iterations
            ),
            "parse_raw_key (bad checksum)": per_call_us(
                lambda: crypto.parse_raw_key(malformed), iterations
            ),
            "hash_secret (HMAC-SHA-256)": per_call_us(
                lambda: crypto.hash_secret(secret), iterations
            ),
            "api_key_verify, cache hit": per_call_us(
                lambda: api_key_verify(raw_key=raw, origin="https://app.example"), iterations
            ),
            "api_key_verify, cache miss": per_call_us(miss, max(iterations // 20, 200)),
        }
    finally:
        SecurityEvent.objects.filter(api_key=api_key).delete()
        ApiKey.objects.filter(pk=api_key.pk).delete()
    print(f"database: {connection.vendor}, iterations: {iterations}")
    for label, value in figures.items():
        print(f"{label:32s} {value:8.2f} µs")
    hit = figures["api_key_verify, cache hit"]
    print(f"cache hit target < 50 µs: {'met' if hit < 50 else 'NOT met'}")


if __name__ == "__main__":
    main()
