"""Rate-limit benchmarks against real gunicorn workers, PostgreSQL and Redis.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_ratelimit.py

1. Admitted counts: 1,000 requests from 50 concurrent clients at an endpoint
   limited to 100/hour, with this project's limiter and with DRF's
   AnonRateThrottle (read, decide, write back: not atomic), side by side.
2. Throughput (wrk if installed, else a multi-process Python generator) of
   the real ``POST /api/v1/persons/lookup``, fully protected (API key,
   session token, scope, every limit, blocks), relative to an unprotected
   DRF view making the same Person query; the sign-up business limits are
   raised so both sides measure 200s only. Counted through the default
   Lua script and through django-ratelimit's get_usage. A third row, the
   plain view plus one Redis counter, shows what a shared counter alone
   costs. With each row, the CPU one request costs, by process: the machine
   has 2 CPUs for everything, so CPU per request is what sets throughput.
3. Per-call costs in one process.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.gunicorn_server import GunicornServer, fire, request, server_env  # noqa: E402

HUGE = ["100000000/m"]  # rates take at most 9 digits
UNLIMITED_SIGNUP = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**12,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": HUGE[0],
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": HUGE[0],
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": HUGE[0],
}
DURATION = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))


def _require_services() -> tuple[str, str]:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the point is shared counters.")
    return database_url, redis_url


def _django_setup() -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.server_settings"
    os.environ.setdefault(
        "GATEHOUSE_SIGNING_KEY",
        server_env(database_url="", redis_url="", cache_prefix="")["GATEHOUSE_SIGNING_KEY"],
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


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


def _wrk(port: int, path: str, headers: dict[str, str], body: dict) -> tuple[float, int]:
    script = "wrk.method = 'POST'\n" + f"wrk.body = {json.dumps(json.dumps(body))}\n"
    for name, value in {"Content-Type": "application/json", **headers}.items():
        script += f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}\n"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t4",
                f"-c{CONNECTIONS}",
                f"-d{DURATION}s",
                "-s",
                lua.name,
                f"http://127.0.0.1:{port}{path}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(lua.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    return rps, int(bad.group(1)) if bad else 0


def _python_load(port: int, path: str, headers: dict[str, str], body: dict) -> tuple[float, int]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(_python_worker, [(port, path, headers, body)] * 8))
    total = sum(ok + bad for ok, bad in results)
    return total / DURATION, sum(bad for _ok, bad in results)


def _python_worker(args: tuple) -> tuple[int, int]:
    port, path, headers, body = args
    ok = bad = 0
    deadline = time.monotonic() + DURATION
    while time.monotonic() < deadline:
        status = request(port, "POST", path, body, headers)[0]
        ok, bad = (ok + 1, bad) if status == 200 else (ok, bad + 1)
    return ok, bad


def _load(port: int, path: str, headers: dict[str, str], body: dict) -> tuple[float, int]:
    if shutil.which("wrk"):
        return _wrk(port, path, headers, body)
    return _python_load(port, path, headers, body)


_PROCESS_GROUPS = {"gunicorn": "gunicorn", "postgres": "PostgreSQL", "redis-server": "Redis"}


def _cpu_seconds() -> dict[tuple[str, str], float]:
    """(group, pid) -> CPU seconds so far of the server, PostgreSQL and Redis processes."""
    seconds = {}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, UnicodeDecodeError):
            continue  # the process ended meanwhile
        for marker, name in _PROCESS_GROUPS.items():
            if marker in command:
                seconds[name, pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                break
    return seconds


def _measured_load(port: int, endpoint: tuple) -> tuple[float, int, dict[str, float]]:
    before = _cpu_seconds()
    rps, errors = _load(port, *endpoint)
    after = _cpu_seconds()
    requests = max(1.0, rps * DURATION)
    cpu = dict.fromkeys(_PROCESS_GROUPS.values(), 0.0)
    # Per process, so one that ended meanwhile (an autovacuum worker) is left
    # out rather than subtracted.
    for (name, pid), total in after.items():
        cpu[name] += (total - before.get((name, pid), 0.0)) / requests * 1e3
    return rps, errors, cpu


def _cpu_text(cpu: dict[str, float]) -> str:
    return (
        f"{sum(cpu.values()):.2f} ms ("
        + ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
        + ")"
    )


def _compare(port: int, label: str, protected: tuple, plain: tuple) -> None:
    # Interleaved rounds so warm-up and noise hit both sides alike; the best
    # round of each side counts.
    rounds = [(_measured_load(port, plain), _measured_load(port, protected)) for _ in range(2)]
    best_plain = max((r[0] for r in rounds), key=lambda result: result[0])
    best_protected = max((r[1] for r in rounds), key=lambda result: result[0])
    errors = sum(r[0][1] + r[1][1] for r in rounds)
    print(
        f"{label:<52}{best_plain[0]:>12.0f}{best_protected[0]:>12.0f}"
        f"{best_protected[0] / best_plain[0]:>8.2f}" + (f"   ({errors} non-2xx!)" if errors else "")
    )
    print(f"{'':<6}CPU per request: plain {_cpu_text(best_plain[2])}")
    print(f"{'':<6}{'':<17}other {_cpu_text(best_protected[2])}")


def _bench_key() -> tuple[object, str]:
    from protection.keys import api_key_create

    return api_key_create(
        name="bench",
        kind="secret",
        scopes=["session", "lookup", "create"],
        required_verifications=[],
    )


def throughput(database_url: str, redis_url: str) -> None:
    env = server_env(
        database_url=database_url, redis_url=redis_url, cache_prefix=f"bench-{uuid.uuid4().hex}"
    )
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps(
        {
            group: {"ip": HUGE, "key": HUGE, "session": HUGE}
            for group in ("challenge", "session", "refresh", "lookup", "create")
        }
    )
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(UNLIMITED_SIGNUP)
    _key, raw_key = _bench_key()
    body = {"email": "nobody@example.com"}
    plain = ("/api/test/plain-lookup", {}, body)
    tool = "wrk" if shutil.which("wrk") else "python load generator"
    print(
        f"\n== throughput, {tool}, {CONNECTIONS} connections, {DURATION}s x 2 rounds, "
        f"{WORKERS} workers, {os.cpu_count()} CPUs shared with PostgreSQL, Redis and {tool} =="
    )
    print(f"{'endpoint (vs the plain view)':<52}{'plain r/s':>12}{'other r/s':>12}{'ratio':>8}")
    for batch in ("1", "0"):
        env["GATEHOUSE_TEST_RATE_LIMIT_BATCH"] = batch
        counters = "Lua script (default)" if batch == "1" else "get_usage"
        with GunicornServer(env=env, workers=WORKERS) as server:
            session_auth = _session_over_http(server.port, raw_key)
            _compare(
                server.port,
                f"persons/lookup, counters via {counters}",
                ("/api/v1/persons/lookup", session_auth, body),
                plain,
            )
            if batch == "1":
                _compare(
                    server.port,
                    "floor: plain view + one Redis counter",
                    ("/api/test/floor-lookup", {}, body),
                    plain,
                )


def _session_over_http(port: int, raw_key: str) -> dict[str, str]:
    """A session the way clients get one (the bench key requires no evidence)."""
    headers = {"X-Api-Key": raw_key}
    status, payload = request(port, "POST", "/api/v1/sessions", {}, headers)
    if status != 201:
        sys.exit(f"POST /api/v1/sessions answered {status}: {payload!r}")
    return {**headers, "Authorization": f"Bearer {json.loads(payload)['access']}"}


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
    from protection.ratelimit.batch import _client_and_script, redis_cache

    _client_and_script(redis_cache())[0].ping()


def breakdown() -> None:
    """Where a protected request's time goes, in-process, one call at a time."""
    from django.conf import settings
    from django.test import override_settings

    from protection.blocks import blocks_check
    from protection.keys import api_key_verify
    from protection.ratelimit import rate_limit_count_many, rate_limit_hit
    from protection.sessions import session_authenticate, session_issue
    from signup.limits import lookup_limits_enforce
    from signup.persons import Person

    key, raw_key = _bench_key()
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
    database, redis = _require_services()
    _django_setup()
    admitted_counts(database, redis)
    throughput(database, redis)
    breakdown()
