"""Bounded soak: a few minutes of mixed clean and hostile traffic on 4 workers.

Starts gunicorn with ``config/gunicorn.conf.py`` (4 sync workers) on the
PostgreSQL and Redis of DATABASE_URL / REDIS_URL, creates an API key and
sessions, then for ``--seconds`` (default 180) drives from ``--clients``
threads a mix of:

- clean (70 %): lookups of existing and missing persons, creates, health,
  from 200 client addresses (X-Forwarded-For through a trusted hop);
- hostile (30 %): 1,000-level JSON, duplicate keys, huge numbers, oversized
  bodies, malformed and revoked-looking keys, forged tokens, a SCRIPT_NAME
  header, unknown /api/ paths, garbage X-Forwarded-For, from 5 addresses
  (which run into the per-IP limits).

Prints the RSS of every worker every ``--sample`` seconds, then p50/p99
latency and the status counts per kind of request. The sign-up business
limits are lifted (they would turn the clean traffic into 429s within
seconds); the per-IP limits stay.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_soak \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/soak.py --seconds 180
"""

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gunicorn import GunicornServer, server_env  # noqa: E402

SETTINGS = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**9,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": "100000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": "100000000/h",
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": "100000000/h",
    "SIGNUP_CREATES_PER_SESSION": 10**9,
    "SIGNUP_CREATE_IP_RATE": "100000000/d",
    "RATE_LIMITS": {
        "challenge": {"ip": ["30/m"]},
        "session": {"ip": ["10/m"]},
        "refresh": {"ip": ["30/m"]},
        "lookup": {"ip": ["120/m"]},
        "create": {"ip": ["60/m"]},
    },
}
CLEAN_IPS = [f"198.51.100.{n}" for n in range(1, 201)]
HOSTILE_IPS = [f"203.0.113.{n}" for n in range(1, 6)]


def worker_pids(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    return sorted(int(pid) for pid in path.read_text().split()) if path.exists() else []


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=12)
    parser.add_argument("--sample", type=float, default=15)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... and REDIS_URL=redis://...")

    env = server_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-soak-{uuid.uuid4().hex[:8]}",
    )
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(SETTINGS)
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    from protection.keys import api_key_create
    from protection.sessions import session_issue

    call_command("migrate", verbosity=0)
    key, raw = api_key_create(name=f"soak {uuid.uuid4().hex[:6]}", required_verifications=[])
    tokens = [session_issue(api_key=key, client_ip="198.51.100.1").access for _ in range(40)]
    auth = lambda: {"X-Api-Key": raw, "Authorization": f"Bearer {random.choice(tokens)}"}  # noqa: E731
    known = [f"soak-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(50)]

    deep = b'{"email": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    hostile = [
        ("deep-json", "POST", "/api/v1/persons/lookup", deep, True, {}),
        ("duplicate-keys", "POST", "/api/v1/persons/lookup",
         b'{"email": "a@example.com", "email": "b@example.com"}', True, {}),
        ("huge-number", "POST", "/api/v1/persons", b'{"email": ' + b"9" * 5000 + b"}", True, {}),
        ("oversized", "POST", "/api/v1/persons", b'{"full_name": "' + b"x" * 20000 + b'"}', True,
         {}),
        ("bad-key", "POST", "/api/v1/challenges", b"{}", False, {"X-Api-Key": "gh_live_nope"}),
        ("forged-token", "POST", "/api/v1/persons/lookup", b'{"email": "a@example.com"}', False,
         {"X-Api-Key": raw, "Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}),
        ("script-name", "POST", "/x/api/v1/persons/lookup", b'{"email": "a@example.com"}', True,
         {"SCRIPT_NAME": "/x"}),
        ("unknown-path", "POST", "/api/v1/nope", b"{}", False, {}),
    ]  # fmt: skip

    stats: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    lock = threading.Lock()
    last_answer = [0.0]

    def send(port: int, kind: str, method: str, path: str, body: bytes | None, headers: dict):
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json",
                                                             **headers})  # fmt: skip
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            status = 0  # no answer (connection error or timeout)
        finally:
            conn.close()
        with lock:
            last_answer[0] = time.monotonic()
            stats[kind].append(last_answer[0] - started)
            statuses[kind][status] += 1

    def client(port: int, deadline: float, seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            roll = rng.random()
            xff = {"X-Forwarded-For": rng.choice(CLEAN_IPS)}
            if roll < 0.40:
                email = rng.choice(known) if rng.random() < 0.5 else f"m{rng.random()}@example.com"
                body = json.dumps({"email": email}).encode()
                send(port, "lookup", "POST", "/api/v1/persons/lookup", body, {**auth(), **xff})
            elif roll < 0.50:
                body = json.dumps({"email": f"c-{uuid.uuid4().hex}@example.com",
                                   "full_name": "Soak Test"}).encode()  # fmt: skip
                send(port, "create", "POST", "/api/v1/persons", body, {**auth(), **xff})
            elif roll < 0.70:
                send(port, "health", "GET", "/api/v1/health", None, xff)
            else:
                kind, method, path, body, with_auth, headers = rng.choice(hostile)
                headers = {**(auth() if with_auth else {}), **headers}
                if rng.random() < 0.2:
                    headers["X-Forwarded-For"] = rng.choice(["unknown", "1.2.3.4:5678", ""])
                else:
                    headers["X-Forwarded-For"] = rng.choice(HOSTILE_IPS)
                send(port, f"hostile:{kind}", method, path, body, headers)

    with GunicornServer(env=env, workers=4, production_config=True) as app:
        for email in known:  # seed persons so lookups find some
            send(app.port, "seed", "POST", "/api/v1/persons",
                 json.dumps({"email": email, "full_name": "Seed"}).encode(),
                 {**auth(), "X-Forwarded-For": "198.51.100.250"})  # fmt: skip
        stats.pop("seed", None)
        statuses.pop("seed", None)
        deadline = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=client, args=(app.port, deadline, n), daemon=True)
            for n in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        print(f"{'t (s)':>6}  RSS per worker (MiB)                 requests")
        while any(thread.is_alive() for thread in threads):
            pids = worker_pids(app.process.pid)
            rss = "  ".join(f"{rss_mib(pid):6.1f}" for pid in pids)
            total = sum(len(v) for v in stats.values())
            print(f"{time.monotonic() - started:6.0f}  {rss:36}  {total}", flush=True)
            time.sleep(min(args.sample, max(0.1, deadline - time.monotonic() + 0.5)))
        for thread in threads:
            thread.join()
        pids = worker_pids(app.process.pid)
        print(f"{'end':>6}  " + "  ".join(f"{rss_mib(pid):6.1f}" for pid in pids))

    elapsed = last_answer[0] - started
    total = sum(len(v) for v in stats.values())
    print(
        f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.0f}/s), {args.clients} clients"
    )
    print(f"{'kind':26} {'n':>6} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    for kind in sorted(stats):
        values = sorted(stats[kind])
        p50 = statistics.median(values) * 1000
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))] * 1000
        counts = ", ".join(f"{s}: {n}" for s, n in sorted(statuses[kind].items()))
        print(f"{kind:26} {len(values):6} {p50:8.1f} {p99:8.1f}  {counts}")
    errors = sum(n for c in statuses.values() for s, n in c.items() if s >= 500 or s == 0)
    print(f"5xx or no answer: {errors}")


if __name__ == "__main__":
    main()
