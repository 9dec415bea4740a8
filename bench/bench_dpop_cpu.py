"""CPU per lookup in one process, Bearer next to DPoP (issue 13): where the DPoP row's CPU goes.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_dpop_cpu.py [--profile]

``bench/bench_dpop_lookup.py`` measures the two rows through gunicorn and
wrk, where four workers, PostgreSQL, Redis and wrk share the CPUs and every
CPU figure is inflated by the contention. This script sends the same two
lookups (the same server settings, keys and sessions) through Django's test
client in this one process, BENCH_RUNS each (500) per round, BENCH_ROUNDS
rounds (3) interleaved, and prints this process's CPU time per request
(``time.process_time``): the whole request as a worker runs it, without
HTTP parsing, gunicorn or other workers. PostgreSQL's and Redis's own CPU is
not counted. ``--profile`` adds cProfile's top entries for one DPoP round.
"""

import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_dpop_lookup import PATH, dpop_key, dpop_server_env  # noqa: E402
from bench.bench_lookup import BODY, bench_key, django_setup, require_services  # noqa: E402
from tests.support.dpop import BASE_URL, DpopClient  # noqa: E402
from tests.support.gunicorn import server_env  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "500"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def configure(database_url: str, redis_url: str) -> None:
    """This process gets the bench server's environment, then Django."""
    defaults = server_env(database_url="", redis_url="", cache_prefix="")
    for name in ("DJANGO_SECRET_KEY", "GATEHOUSE_SIGNING_KEY"):
        os.environ.setdefault(name, defaults[name])
    os.environ.update(dpop_server_env(database_url, redis_url))
    django_setup()


def main() -> None:
    database_url, redis_url = require_services()
    os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")
    configure(database_url, redis_url)
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    _key, raw_key = bench_key()
    _dpop_key, raw_dpop_key = dpop_key()
    dpop_client = DpopClient()

    def session(**headers: str) -> str:
        response = client.post("/api/v1/sessions", {}, content_type="application/json", **headers)
        if response.status_code != 201:
            sys.exit(f"POST /api/v1/sessions answered {response.status_code}: {response.content!r}")
        return response.json()["access"]

    bearer = session(HTTP_X_API_KEY=raw_key)
    dpop = session(
        HTTP_X_API_KEY=raw_dpop_key, HTTP_DPOP=dpop_client.proof(url=BASE_URL + "/api/v1/sessions")
    )

    def lookups(headers: list[dict[str, str]]) -> float:
        """CPU ms per request of this process over ``headers``, one request each."""
        started = time.process_time()
        for extra in headers:
            response = client.post(PATH, BODY, content_type="application/json", **extra)
            if response.status_code != 200:
                sys.exit(f"lookup answered {response.status_code}: {response.content!r}")
        return (time.process_time() - started) / len(headers) * 1e3

    def bearer_headers() -> list[dict[str, str]]:
        return [{"HTTP_X_API_KEY": raw_key, "HTTP_AUTHORIZATION": f"Bearer {bearer}"}] * RUNS

    def dpop_headers() -> list[dict[str, str]]:
        fixed = {"HTTP_X_API_KEY": raw_dpop_key, "HTTP_AUTHORIZATION": f"DPoP {dpop}"}
        url = BASE_URL + PATH
        return [
            {**fixed, "HTTP_DPOP": dpop_client.proof(url=url, access_token=dpop)}
            for _ in range(RUNS)
        ]

    lookups(bearer_headers()[:50])  # warm: connections, caches
    lookups(dpop_headers()[:50])
    rows: dict[str, list[float]] = {"bearer": [], "dpop": []}
    for _ in range(ROUNDS):
        rows["bearer"].append(lookups(bearer_headers()))
        rows["dpop"].append(lookups(dpop_headers()))  # proofs signed before the clock starts
    print(
        f"== lookup CPU in one process (Django test client, {ROUNDS} rounds x {RUNS} "
        "requests, proofs signed beforehand) =="
    )
    print(f"{'row':<8}{'median ms':>10}  rounds")
    for name, values in rows.items():
        rounds = " ".join(f"{value:.2f}" for value in values)
        print(f"{name:<8}{statistics.median(values):>10.2f}  {rounds}")
    extra = statistics.median(rows["dpop"]) - statistics.median(rows["bearer"])
    print(f"DPoP adds {extra:+.2f} ms of this process's CPU per lookup")

    if "--profile" in sys.argv:
        headers = dpop_headers()
        profile = cProfile.Profile()
        profile.enable()
        lookups(headers)
        profile.disable()
        stats = pstats.Stats(profile).sort_stats("cumulative")
        stats.print_stats(r"dpop|jwt|cache/backends|ratelimit|authentication", 20)


if __name__ == "__main__":
    main()
