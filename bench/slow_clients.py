"""Slow clients against gunicorn alone and behind nginx: which setup survives.

For each setup (gunicorn with ``config/gunicorn.conf.py``, 4 sync workers,
reached directly; the same with ``--worker-class gthread --threads 8``; and
the documented production front, nginx with ``deploy/nginx.conf.template``)
and each attack (8 or 200 connections sending their head one byte per
0.5 s, or 200 sending their body so), it probes ``GET /api/v1/health`` and an
unauthenticated ``POST /api/v1/persons/lookup`` (a worker must answer its 401)
from another loopback address, 5 times each, and prints the slowest answer
and how many did not come within 5 s. Bounded: ~12 s per row.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_bench \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/slow_clients.py
"""

import http.client
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gunicorn import GunicornServer, server_env  # noqa: E402
from tests.support.nginx import NginxServer, nginx_available  # noqa: E402
from tests.support.slowclients import SlowClients, loopback_sources  # noqa: E402

PROBE_SOURCE = "127.0.0.3"


def probe(port: int, method: str, path: str) -> float | None:
    started = time.monotonic()
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=5, source_address=(PROBE_SOURCE, 0)
    )
    try:
        body = b"{}" if method == "POST" else None
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        connection.getresponse().read()
        return time.monotonic() - started
    except OSError:
        return None
    finally:
        connection.close()


def measure(port: int, *, count: int, mode: str) -> str:
    attack = SlowClients(
        host="127.0.0.1", port=port, count=count, mode=mode, sources=loopback_sources(20)
    )
    with attack:
        time.sleep(1.5)
        results = []
        for _ in range(5):
            results.append(probe(port, "GET", "/api/v1/health"))
            results.append(probe(port, "POST", "/api/v1/persons/lookup"))
            time.sleep(0.3)
    answered = [r for r in results if r is not None]
    slowest = f"{max(answered) * 1000:7.0f} ms" if answered else "      -"
    return f"slowest {slowest}, no answer within 5 s: {len(results) - len(answered)}/10"


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... and REDIS_URL=redis://...")
    env = server_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-bench-{uuid.uuid4().hex[:8]}",
    )
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"
    env["GATEHOUSE_TEST_SETTINGS"] = '{"RATE_LIMITS": {}}'  # probes must not be limited
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env={**os.environ, **env},
        check=True,
    )  # fmt: skip
    attacks = [(8, "headers"), (200, "headers"), (200, "body")]
    setups = [
        ("gunicorn sync x4, direct", ()),
        ("gunicorn gthread 4x8, direct", ("--worker-class", "gthread", "--threads", "8")),
    ]
    for name, extra in setups:
        for count, mode in attacks:
            app = GunicornServer(env=env, workers=4, production_config=True, extra_args=extra)
            with app:
                row(name, count, mode, measure(app.port, count=count, mode=mode))
    if not nginx_available():
        print("nginx not installed: skipping the nginx rows")
        return
    for count, mode in attacks:
        with GunicornServer(env=env, workers=4, production_config=True) as app:
            with tempfile.TemporaryDirectory() as directory:
                front = NginxServer(upstream=f"127.0.0.1:{app.port}", directory=Path(directory))
                with front:
                    result = measure(front.port, count=count, mode=mode)
                    row("nginx -> gunicorn sync x4", count, mode, result)


def row(name: str, count: int, mode: str, result: str) -> None:
    print(f"{name:30} {count:3} slow {mode:7}: {result}", flush=True)


if __name__ == "__main__":
    main()
