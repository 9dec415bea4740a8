"""Benchmark anonymous sessions: proof-of-work cost for clients vs the server.

Prints: median time for a Python client to solve the default challenge, server
time to verify one solution, sessions issued per second, and access-token
verification cost per request, plus the solve/verify ratio (target >= 1,000).

Runs on the embedded SQLite in a temporary directory unless DATABASE_URL /
REDIS_URL are set:  /work/main/.venv/bin/python bench/bench_sessions.py
"""

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")  # no line per security event
if not os.environ.get("DATABASE_URL"):
    os.environ["GATEHOUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="gh-bench-")

import django  # noqa: E402

django.setup()

import altcha  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from protection.challenges import challenge_issue, challenge_verify  # noqa: E402
from protection.challenges.pow import pow_challenge_create, pow_solution_verify  # noqa: E402
from protection.conf import gatehouse_settings  # noqa: E402
from protection.keys import api_key_create  # noqa: E402
from protection.sessions import session_authenticate, session_issue  # noqa: E402
from protection.sessions.tokens import SessionAccessToken, token_decode  # noqa: E402

SOLVES = int(os.environ.get("BENCH_SOLVES", "30"))


def median_seconds(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def solve(challenge: dict) -> str:
    parsed = altcha.Challenge.from_dict(challenge)
    solution = altcha.solve_challenge(parsed, timeout=600)
    return altcha.Payload(parsed, solution).to_base64()


def main() -> None:
    call_command("migrate", verbosity=0)
    key, _ = api_key_create(name=f"bench {time.time()}", required_verifications=["pow"])
    cache_backend = django.conf.settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"database: {django.db.connection.vendor}, cache: {cache_backend}")
    pow_settings = gatehouse_settings
    print(
        f"default challenge: {pow_settings.POW_ALGORITHM} cost {pow_settings.POW_COST}, "
        f"secret counter in [{pow_settings.POW_MAX_NUMBER // 2:,}, "
        f"{pow_settings.POW_MAX_NUMBER:,}], cap {pow_settings.POW_MAX_NUMBER_CAP:,}"
    )

    # 1. Client: solve the default challenge.
    solve_times, payloads = [], []
    for _ in range(SOLVES):
        challenge = challenge_issue(api_key=key, client_ip="192.0.2.1")["altcha"]
        started = time.perf_counter()
        payloads.append(solve(challenge))
        solve_times.append(time.perf_counter() - started)
    solve_median = statistics.median(solve_times)
    print(
        f"client solve (Python, default): median {solve_median * 1000:.1f} ms, "
        f"p90 {sorted(solve_times)[int(len(solve_times) * 0.9) - 1] * 1000:.1f} ms "
        f"over {SOLVES} challenges"
    )
    capped = pow_challenge_create(
        api_key_public_id=key.public_id,
        max_number=gatehouse_settings.POW_MAX_NUMBER_CAP,
        now=timezone.now(),
    )
    started = time.perf_counter()
    solve(capped)
    print(f"client solve (Python, at the cap): one sample {time.perf_counter() - started:.2f} s")

    # 2. Server: verify one solution (offline: signature, key signature, expiry, key binding).
    now = timezone.now()
    payload = payloads[0]
    verify = median_seconds(
        lambda: pow_solution_verify(payload=payload, api_key_public_id=key.public_id, now=now),
        2000,
    )
    print(f"server verify (offline, no DB): median {verify * 1e6:.1f} µs per solution")
    print(f"solve / verify ratio: {solve_median / verify:,.0f}x (target >= 1,000x)")
    garbage = median_seconds(
        lambda: _refused(payload="bm90IGEgcGF5bG9hZA==", public_id=key.public_id, now=now), 2000
    )
    print(f"server refuse garbage: median {garbage * 1e6:.1f} µs")
    spends = iter(payloads[1:])
    spend = median_seconds(
        lambda: challenge_verify(api_key=key, client_ip="192.0.2.1", altcha_payload=next(spends)),
        len(payloads) - 1,
    )
    print(f"server verify + record as spent (one DB insert): median {spend * 1000:.2f} ms")

    # 3. Sessions issued per second (session row + event, token pair signed).
    count = 300
    started = time.perf_counter()
    issued = [session_issue(api_key=key, client_ip="192.0.2.1") for _ in range(count)]
    elapsed = time.perf_counter() - started
    print(f"sessions issued: {count / elapsed:,.0f} per second (one process, sequential)")

    # 4. Access-token verification per request.
    access = issued[-1].access
    decode = median_seconds(lambda: token_decode(SessionAccessToken, access), 3000)
    full = median_seconds(lambda: session_authenticate(raw_token=access, api_key=key), 1000)
    print(
        f"access token: JWT verify {decode * 1e6:.1f} µs; with the session row check "
        f"(1 PK query) {full * 1e6:.1f} µs per request"
    )


def _refused(*, payload: str, public_id: str, now) -> None:
    try:
        pow_solution_verify(payload=payload, api_key_public_id=public_id, now=now)
    except Exception:
        return


if __name__ == "__main__":
    main()
