"""Uniformity of the verification 202 (issue 19): bytes and timing, new vs taken.

Starts gunicorn (4 sync workers) in email verification mode on the
PostgreSQL and Redis named by DATABASE_URL / REDIS_URL, seeds persons and
sessions directly in that database, then drives ``POST /api/v1/persons``
from client threads, each thread cycling through three kinds of address so
that every kind sees the same server load at the same moments:

- new: an address nobody has (a code is queued);
- taken: a seeded person's address asked for the first time (the owner's
  notice is queued: the same statements as for a new address);
- taken again: a seeded address asked for before (no notice: the owner had
  one today), the one case that skips the outbox row.

Every request uses a session of its own (as a prober must: one create per
session), so none is a resend within another's cooldown, and every address
of the "new" kind is used once.

It prints, per kind, the number of distinct bodies and of distinct header
sets (without X-Request-ID and Date, per request), the median latency, and
the median differences against "new" with the noise floor: the same
statistic between two random halves of the "new" requests. Measured the
way ``bench/bench_signup.py`` measures the lookup's uniformity. The outbox
sender is not running: nothing is sent, rows wait (removed at the end).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_verification \\
    REDIS_URL=redis://127.0.0.1:6379/11 \\
    .venv/bin/python bench/bench_verification.py [--seconds 10] [--clients 8]
"""

import argparse
import http.client
import json
import os
import random
import secrets
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_signup import seed  # noqa: E402

from tests.support.gunicorn import GunicornServer, server_env  # noqa: E402

WORKERS = 4
KINDS = ("new", "taken", "taken again")
# The business limits out of the way (the bench measures 202s, not refusals).
RAISED = {
    "SIGNUP_CREATES_PER_SESSION": 10**9,
    "SIGNUP_CREATE_IP_RATE": "100000000/d",
    "SIGNUP_VERIFY_SENDS_PER_ADDRESS_RATE": "100000000/d",
}
PER_REQUEST = {"x-request-id", "date"}


def _cleanup(tag: str) -> None:
    from protection.core.outbox import OutboxMessage
    from protection.keys import ApiKey
    from signup.models import PendingSignup
    from signup.persons import Person

    suffix = f".{tag}@bench.example"
    OutboxMessage.objects.filter(payload__to__endswith=suffix).delete()
    PendingSignup.objects.filter(api_key__name=f"bench {tag}").delete()
    Person.objects.filter(email__endswith=suffix).delete()
    ApiKey.objects.filter(name=f"bench {tag}").delete()


def _post(port: int, headers: dict[str, str], body: dict) -> tuple[int, bytes, tuple, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("POST", "/api/v1/persons", json.dumps(body), headers)
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    kept = tuple(sorted((k, v) for k, v in response.getheaders() if k.lower() not in PER_REQUEST))
    connection.close()
    return response.status, payload, kept, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--persons", type=int, default=20000, help="seeded persons")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds (default 3)")
    parser.add_argument(
        "--sessions", type=int, default=8000, help="sessions made beforehand, one per request"
    )
    args = parser.parse_args()
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            sys.exit(f"Set {name} (PostgreSQL and Redis) to benchmark.")

    tag = secrets.token_hex(4)
    env = server_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-bench-verify-{uuid.uuid4().hex[:8]}",
    )
    env.update(
        {
            "GATEHOUSE_SIGNUP_VERIFY": "email",
            "GATEHOUSE_TEST_SETTINGS": json.dumps(RAISED),
            # No endpoint throttles: their RateLimit fields count per caller.
            "GATEHOUSE_TEST_RATE_LIMITS": json.dumps({"create": {}}),
        }
    )
    os.environ["GATEHOUSE_SIGNING_KEY"] = env["GATEHOUSE_SIGNING_KEY"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    raw_key, tokens, seeded = seed(
        sessions=args.sessions,
        persons=args.persons,
        tag=tag,
    )
    taken_first = iter(seeded)
    fresh_tokens = iter(tokens)
    new_addresses = (f"new{n}.{tag}@bench.example" for n in range(10**9))
    probed: list[str] = []
    lock = threading.Lock()
    rounds: list[dict[str, list]] = [{kind: [] for kind in KINDS} for _ in range(args.rounds)]

    def next_request(kind: str) -> tuple[str, str]:
        """(address, access token) of the next request of ``kind``."""
        with lock:
            token = next(fresh_tokens)  # StopIteration: make more --sessions
            if kind == "new":
                return next(new_addresses), token
            if kind == "taken" or not probed:
                email = next(taken_first)  # StopIteration: seed more --persons
                probed.append(email)
                return email, token
            return random.choice(probed), token

    try:
        with GunicornServer(env=env, workers=WORKERS) as server:

            def loop(index: int, seconds: float, record: dict | None) -> None:
                stop = time.monotonic() + seconds
                n = index  # threads start at different kinds
                while time.monotonic() < stop:
                    kind = KINDS[n % len(KINDS)]
                    email, token = next_request(kind)
                    headers = {
                        "Content-Type": "application/json",
                        "X-Api-Key": raw_key,
                        "Authorization": f"Bearer {token}",
                    }
                    outcome = _post(server.port, headers, {"email": email, "full_name": "Bench"})
                    if record is not None:
                        with lock:
                            record[kind].append(outcome)
                    n += 1

            phases = [(2.0, None)] + [(args.seconds, results) for results in rounds]
            for seconds, record in phases:  # a warm-up, then the measured rounds
                threads = [
                    threading.Thread(target=loop, args=(i, seconds, record))
                    for i in range(args.clients)
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
    finally:
        _cleanup(tag)

    ms = 1000.0
    print(
        f"gunicorn workers: {WORKERS}, client threads: {args.clients}, "
        f"{args.rounds} rounds of {args.seconds:.0f} s, email verification mode"
    )
    everything = {kind: [row for results in rounds for row in results[kind]] for kind in KINDS}
    for kind in KINDS:
        rows = everything[kind]
        statuses = sorted({status for status, *_ in rows})
        print(
            f"{kind:>12}: n={len(rows)}, statuses {statuses}, "
            f"distinct bodies {len({body for _, body, _, _ in rows})}, "
            f"distinct header sets {len({headers for _, _, headers, _ in rows})}"
        )
    all_bodies = {body for rows in everything.values() for _, body, _, _ in rows}
    all_headers = {headers for rows in everything.values() for _, _, headers, _ in rows}
    print(
        f"across kinds: distinct bodies {len(all_bodies)} {sorted(all_bodies)}, "
        f"distinct header sets (without X-Request-ID, Date) {len(all_headers)}"
    )
    for number, results in enumerate([*rounds, everything], start=1):
        label = f"round {number}" if number <= len(rounds) else "all rounds"
        medians = {kind: statistics.median(r[-1] for r in results[kind]) for kind in KINDS}
        new = [row[-1] for row in results["new"]]
        random.Random(number).shuffle(new)
        half = len(new) // 2
        noise = statistics.median(new[:half]) - statistics.median(new[half:])
        differences = ", ".join(
            f"{kind} - new {(medians[kind] - medians['new']) * ms:+.3f} ms" for kind in KINDS[1:]
        )
        print(
            f"{label}: median new {medians['new'] * ms:.3f} ms; {differences}; "
            f"noise floor (new vs new halves) {noise * ms:+.3f} ms"
        )


if __name__ == "__main__":
    main()
