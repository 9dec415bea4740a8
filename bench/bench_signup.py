"""Benchmark find_person and create_person through the full stack.

Starts gunicorn (4 sync workers) on the PostgreSQL and Redis named by
DATABASE_URL / REDIS_URL, creates an API key and sessions directly in that
database (protection.sessions.session_issue, with the same signing key the
server uses), seeds persons, then drives the HTTP API from client threads and
prints:

- lookups/s and creates/s;
- the median latency of lookups of existing vs missing persons, their
  difference, and the noise floor (the same statistic between two random
  halves of the missing lookups) to judge it against.

The business limits are raised through settings (a generated settings module)
so they do not cap the measurement; everything else is production code.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_signup \\
    REDIS_URL=redis://127.0.0.1:6379/4 \\
    /work/main/.venv/bin/python bench/bench_signup.py [--seconds 10] [--clients 8]
"""

import argparse
import http.client
import json
import os
import random
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
RAISED_LIMITS = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**9,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": "100000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": "100000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": "100000000/h",
    "SIGNUP_CREATES_PER_SESSION": 10**9,
    "SIGNUP_CREATE_IP_RATE": "100000000/d",
    # The endpoint throttles of the limits module (per IP/key/session): off for
    # the bench, which measures throughput, not the throttle. (Ignored where
    # the setting does not exist.)
    "RATE_LIMITS": {},
}


def _prepare_environment(settings_dir: Path) -> dict[str, str]:
    """Environment shared by this process (setup) and gunicorn (serving)."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... (and REDIS_URL=redis://...) to benchmark.")
    if not os.environ.get("REDIS_URL", "").startswith("redis"):
        sys.exit("Set REDIS_URL=redis://... to benchmark.")
    (settings_dir / "gatehouse_bench_settings.py").write_text(
        "from config.settings import *  # noqa: F403\n"
        f"GATEHOUSE = {{**GATEHOUSE, **{RAISED_LIMITS!r}}}  # noqa: F405\n"
    )
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "gatehouse_bench_settings",
            "PYTHONPATH": os.pathsep.join([str(settings_dir), str(ROOT)]),
            "DJANGO_SECRET_KEY": "bench-" + secrets.token_urlsafe(40),
            "GATEHOUSE_SIGNING_KEY": "bench-" + secrets.token_urlsafe(40),
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_DEBUG": "0",
            "GATEHOUSE_CACHE_PREFIX": "gh-bench",
            "GATEHOUSE_LOG_LEVEL": "WARNING",  # one log line per event would be measured too
        }
    )
    os.environ.update(env)
    sys.path[:0] = [str(settings_dir), str(ROOT)]
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(env: dict[str, str], port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--chdir",
            str(ROOT),
        ],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/v1/health")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not become healthy in 30 s")


def seed(*, sessions: int, persons: int, tag: str) -> tuple[str, list[str], list[str]]:
    """Create a key, sessions and seed persons; return (raw_key, access tokens, seeded emails)."""
    import django

    django.setup()
    from django.core.management import call_command

    from protection.keys import api_key_create
    from protection.sessions import session_issue
    from signup.persons import Person

    call_command("migrate", verbosity=0)
    api_key, raw_key = api_key_create(name=f"bench {tag}", kind="secret", required_verifications=[])
    tokens = [session_issue(api_key=api_key, client_ip="127.0.0.1").access for _ in range(sessions)]
    emails = [f"seed{n}.{tag}@bench.example" for n in range(persons)]
    Person.objects.bulk_create(
        Person(email=email, full_name=f"Seed {n}", created_by_key=api_key)
        for n, email in enumerate(emails)
    )
    return raw_key, tokens, emails


def _cleanup(tag: str) -> None:
    from protection.keys import ApiKey
    from signup.persons import Person

    Person.objects.filter(email__endswith=f".{tag}@bench.example").delete()
    ApiKey.objects.filter(name=f"bench {tag}").delete()


class Client:
    """One keep-nothing HTTP client thread's view of the API."""

    def __init__(self, port: int, raw_key: str, token: str) -> None:
        self.port = port
        self.headers = {
            "Content-Type": "application/json",
            "X-Api-Key": raw_key,
            "Authorization": f"Bearer {token}",
        }

    def post(self, path: str, body: dict, **headers: str) -> tuple[int, float]:
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        connection.request("POST", path, json.dumps(body), {**self.headers, **headers})
        response = connection.getresponse()
        response.read()
        connection.close()
        return response.status, time.perf_counter() - started


def _run_clients(clients: list[Client], seconds: float, work) -> list:
    results: list = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def loop(index: int, client: Client) -> None:
        local = []
        n = 0
        while time.monotonic() < stop:
            local.append(work(client, index, n))
            n += 1
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=loop, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase (default 10)")
    parser.add_argument("--clients", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--persons", type=int, default=2000, help="seeded persons")
    args = parser.parse_args()

    tag = secrets.token_hex(4)
    with tempfile.TemporaryDirectory() as settings_dir:
        env = _prepare_environment(Path(settings_dir))
        raw_key, tokens, emails = seed(sessions=args.clients, persons=args.persons, tag=tag)
        port = _free_port()
        server = _start_gunicorn(env, port)
        try:
            clients = [Client(port, raw_key, token) for token in tokens]
            rng = random.Random(1)

            # Warm-up: connections, worker imports, caches.
            _run_clients(
                clients, 2, lambda c, i, n: c.post("/api/v1/persons/lookup", {"email": emails[0]})
            )

            # Lookups: each thread alternates existing / missing, so both classes
            # see the same server load at the same moments.
            def lookup(client: Client, index: int, n: int) -> tuple[bool, int, float]:
                existing = n % 2 == 0
                email = (
                    rng.choice(emails) if existing else f"missing{index}.{n}.{tag}@bench.example"
                )
                status, latency = client.post("/api/v1/persons/lookup", {"email": email})
                return existing, status, latency

            started = time.monotonic()
            lookups = _run_clients(clients, args.seconds, lookup)
            lookup_elapsed = time.monotonic() - started

            def create(client: Client, index: int, n: int) -> tuple[int, float]:
                body = {"email": f"new{index}.{n}.{tag}@bench.example", "full_name": "Bench"}
                return client.post(
                    "/api/v1/persons", body, **{"Idempotency-Key": f"{tag}-{index}-{n}"}
                )

            started = time.monotonic()
            creates = _run_clients(clients, args.seconds, create)
            create_elapsed = time.monotonic() - started
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            _cleanup(tag)

    found = [latency for existing, status, latency in lookups if existing and status == 200]
    missing = [latency for existing, status, latency in lookups if not existing and status == 200]
    lookup_errors = sum(1 for _, status, _ in lookups if status != 200)
    create_errors = sum(1 for status, _ in creates if status != 201)
    shuffled = missing[:]
    random.Random(2).shuffle(shuffled)
    half = len(shuffled) // 2
    noise = statistics.median(shuffled[:half]) - statistics.median(shuffled[half:])
    ms = 1000.0
    print(
        f"gunicorn workers: {WORKERS}, client threads: {args.clients}, "
        f"seeded persons: {args.persons}, {args.seconds:.0f} s per phase"
    )
    print(
        f"lookups/s: {len(lookups) / lookup_elapsed:.0f}  "
        f"({len(lookups)} requests, {lookup_errors} not 200)"
    )
    print(
        f"creates/s: {len(creates) / create_elapsed:.0f}  "
        f"({len(creates)} requests, {create_errors} not 201)"
    )
    print(
        f"lookup median latency, existing: {statistics.median(found) * ms:.3f} ms "
        f"(n={len(found)}), missing: {statistics.median(missing) * ms:.3f} ms (n={len(missing)})"
    )
    print(
        f"median difference existing - missing: "
        f"{(statistics.median(found) - statistics.median(missing)) * ms:+.3f} ms; "
        f"noise floor (missing vs missing halves): {noise * ms:+.3f} ms"
    )


if __name__ == "__main__":
    main()
