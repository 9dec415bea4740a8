"""Lookup throughput, side by side (issue 10): one gunicorn, four rows, interleaved.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_lookup.py

Every row is a POST of ``{"email": …}`` answered by the same Person query, on
the same gunicorn workers, so the only difference is what guards the query:

- plain:     ``/api/test/plain-lookup``, a DRF view with no protection;
- floor:     ``/api/test/floor-lookup``, plain plus one Redis counter, the
             least any limiter whose counters are shared across processes adds;
- protected: ``/api/v1/persons/lookup``, gatehouse: API key, session token,
             scope, blocks, every rate limit (business limits raised so it
             answers 200);
- stack:     ``/api/test/stack-lookup``, what a Django team would assemble
             instead: djangorestframework-api-key's HasAPIKey, simplejwt's
             JWTStatelessUserAuthentication and DRF throttles on Redis per IP,
             per token subject and per scope (``tests/support/server_stack.py``).

Rows run in rounds (plain, floor, protected, stack, plain, …) so drift and
other load on the machine hit them alike; each row's median requests/second
counts. Only HTTP is used: nothing here knows how the pipeline is built.
Load comes from wrk when installed (``apt-get install wrk``), else from a
multi-process Python generator, which is much slower and says so.

Environment: BENCH_SECONDS (10 per row and round), BENCH_ROUNDS (3),
BENCH_CONNECTIONS (32), BENCH_WORKERS (4 gunicorn workers), BENCH_WRK_THREADS (2, in
bench/load.py),
BENCH_WARMUP_SECONDS (2 per row, untimed, before the rounds).
"""

import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    Load,
    children_cpu_seconds,
    cpu_by_process,
    load_run,
    load_tool,
    machine_busy_seconds,
    python_clients,
)
from tests.support.gunicorn import GunicornServer, request, server_env  # noqa: E402

HUGE = ["100000000/m"]  # gatehouse rates take at most 9 digits
UNLIMITED_SIGNUP = {
    "SIGNUP_LOOKUPS_PER_SESSION": 10**12,
    "SIGNUP_LOOKUP_IDENTIFIER_RATE": HUGE[0],
    "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": HUGE[0],
    "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": HUGE[0],
}
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WARMUP = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
BODY = {"email": "nobody@example.com"}
ROWS = ("plain", "floor", "protected", "stack")
PATHS = {
    "plain": "/api/test/plain-lookup",
    "floor": "/api/test/floor-lookup",
    "protected": "/api/v1/persons/lookup",
    "stack": "/api/test/stack-lookup",
}
# Issue 10: protected >= 0.85x the floor, >= 0.6x plain, and ahead of the stack.
TARGETS = {
    "protected/floor": (">=", 0.85),
    "protected/plain": (">=", 0.6),
    "protected/stack": (">", 1.0),
}
CPU_GROUPS = ("server", "postgres", "redis", "load")


# --- Rows -----------------------------------------------------------------------


@dataclass
class Row:
    name: str
    loads: list[Load] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=lambda: dict.fromkeys(CPU_GROUPS, 0.0))
    # CPU seconds the rest of the machine used while this row ran, and the
    # wall-clock seconds it ran: how busy other people kept the machine.
    elsewhere: float = 0.0
    wall: float = 0.0

    def busy_elsewhere(self) -> float:
        """Share of the machine's CPUs used by other work while this row ran."""
        return self.elsewhere / (self.wall * (os.cpu_count() or 1)) if self.wall else 0.0

    @property
    def median_rps(self) -> float:
        return statistics.median(load.rps for load in self.loads)

    @property
    def non_2xx(self) -> int:
        return sum(load.non_2xx for load in self.loads)

    @property
    def socket_errors(self) -> int:
        return sum(load.socket_errors for load in self.loads)

    @property
    def values_reused(self) -> int:
        """Requests that repeated a per-request header value (a DPoP proof): replays."""
        return sum(load.values_reused for load in self.loads)

    def cpu_ms_per_request(self) -> dict[str, float]:
        requests = max(1, sum(load.requests for load in self.loads))
        return {group: seconds / requests * 1e3 for group, seconds in self.cpu.items()}


def _load(
    port: int,
    name: str,
    headers: dict[str, str],
    *,
    seconds: int,
    path: str | None = None,
    header_files: dict[str, str] | None = None,
) -> Load:
    return load_run(
        port,
        path or PATHS[name],
        body=BODY,
        headers=headers,
        seconds=seconds,
        connections=CONNECTIONS,
        header_files=header_files,
    )


def measure(
    row: Row,
    *,
    server: GunicornServer,
    database: str,
    headers: dict[str, str],
    path: str | None = None,
    header_files: dict[str, str] | None = None,
) -> None:
    """One load run of ``row`` (on ``PATHS[row.name]`` unless ``path``, with a
    value per request from ``header_files``); adds its figures and CPU to the row."""
    group = os.getpgid(server.process.pid)
    before, children_before = cpu_by_process(group, database), children_cpu_seconds()
    busy_before, started = machine_busy_seconds(), time.monotonic()
    load = _load(
        server.port, row.name, headers, seconds=SECONDS, path=path, header_files=header_files
    )
    busy_after, ended = machine_busy_seconds(), time.monotonic()
    after, children_after = cpu_by_process(group, database), children_cpu_seconds()
    ours = children_after - children_before
    # Per process, so one that ended meanwhile (an autovacuum worker) is left
    # out rather than subtracted.
    for (name, pid), total in after.items():
        row.cpu[name] += total - before.get((name, pid), 0.0)
        ours += total - before.get((name, pid), 0.0)
    row.cpu["load"] += children_after - children_before
    row.elsewhere += max(0.0, busy_after - busy_before - ours)
    row.wall += ended - started
    row.loads.append(load)


def ratios(rows: dict[str, Row]) -> dict[str, float]:
    """protected/other of the median requests per second."""
    protected = rows["protected"].median_rps
    return {
        f"protected/{other}": protected / rows[other].median_rps
        for other in ("floor", "plain", "stack")
        if rows[other].median_rps
    }


def cpu_ratios(rows: dict[str, Row]) -> dict[str, float]:
    """The same ratios from CPU per request (other/protected): what the rows
    would reach on a machine of their own, where CPU sets throughput. Other
    load on a shared machine moves requests per second far more than this."""
    protected = sum(rows["protected"].cpu_ms_per_request().values())
    return {
        f"protected/{other}": sum(rows[other].cpu_ms_per_request().values()) / protected
        for other in ("floor", "plain", "stack")
        if protected
    }


def rows_table(rows: dict[str, Row], *, tool: str) -> list[str]:
    """One line per row: median and per-round requests/s, errors, CPU per request."""
    lines = [
        f"{'row':<11}{'median r/s':>11}  {'rounds r/s':<22}{'non-2xx':>8}{'sock err':>9}"
        f"{'busy elsewhere':>16}   CPU ms/request: total (server, postgres, redis, {tool})"
    ]
    for row in rows.values():
        cpu = row.cpu_ms_per_request()
        rounds = " ".join(f"{load.rps:.0f}" for load in row.loads)
        failed = row.non_2xx or row.socket_errors or row.values_reused
        mark = "  <- errors: not all 200" if failed else ""
        lines.append(
            f"{row.name:<11}{row.median_rps:>11.0f}  {rounds:<22}{row.non_2xx:>8}"
            f"{row.socket_errors:>9}{row.busy_elsewhere():>15.0%}    {sum(cpu.values()):.2f} ("
            + ", ".join(f"{cpu[group]:.2f}" for group in CPU_GROUPS)
            + f"){mark}"
        )
    return lines


def report(rows: dict[str, Row], *, tool: str) -> str:
    """The table (``rows_table``), then the ratios against their targets."""
    lines = rows_table(rows, tool=tool)
    lines.append("")
    lines.append(f"{'ratio':<17}{'r/s':>6}{'CPU':>7}   target (on r/s)")
    by_cpu = cpu_ratios(rows)
    for name, value in ratios(rows).items():
        operator, target = TARGETS[name]
        met = value >= target if operator == ">=" else value > target
        lines.append(
            f"{name:<17}{value:>6.2f}{by_cpu.get(name, 0.0):>7.2f}   {operator} {target:.2f}: "
            + ("met" if met else "NOT met")
        )
    lines.append(
        "(CPU: the ratio of CPU per request, other/protected: steadier on a shared machine)"
    )
    return "\n".join(lines)


# --- Setup ----------------------------------------------------------------------


def require_services() -> tuple[str, str]:
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the point is shared counters.")
    return database_url, redis_url


def django_setup() -> None:
    """Django in this process with the server's settings and secrets (to mint its tokens)."""
    env = server_env(database_url="", redis_url="", cache_prefix="")
    os.environ["DJANGO_SETTINGS_MODULE"] = env["DJANGO_SETTINGS_MODULE"]
    for name in ("DJANGO_SECRET_KEY", "GATEHOUSE_SIGNING_KEY"):
        os.environ.setdefault(name, env[name])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_key() -> tuple[object, str]:
    """A gatehouse key that requires no evidence, for sessions over HTTP."""
    from protection.keys import api_key_create

    return api_key_create(
        name="bench",
        kind="secret",
        scopes=["session", "lookup", "create"],
        required_verifications=[],
    )


def _server_env(database_url: str, redis_url: str) -> dict[str, str]:
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
    for name in ("DJANGO_SECRET_KEY", "GATEHOUSE_SIGNING_KEY"):
        env[name] = os.environ[name]  # the ones django_setup put in this process
    return env


def _protected_headers(port: int, raw_key: str) -> dict[str, str]:
    """A fresh session the way clients get one (the bench key requires no evidence)."""
    headers = {"X-Api-Key": raw_key}
    status, payload = request(port, "POST", "/api/v1/sessions", {}, headers)
    if status != 201:
        sys.exit(f"POST /api/v1/sessions answered {status}: {payload!r}")
    return {**headers, "Authorization": f"Bearer {json.loads(payload)['access']}"}


def _stack_headers(raw_key: str) -> dict[str, str]:
    """djangorestframework-api-key's key and a simplejwt access token for one subject."""
    from rest_framework_simplejwt.settings import api_settings
    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken()
    token[api_settings.USER_ID_CLAIM] = "bench-subject"
    return {"X-Api-Key": raw_key, "Authorization": f"Bearer {token}"}


def preflight(port: int, headers: dict[str, dict[str, str]]) -> list[str]:
    """Each row answers 200 once; the guarded rows refuse a request without
    their key and one without their token. Returns the problems found."""
    problems = []
    for name in ROWS:
        status, payload = request(port, "POST", PATHS[name], BODY, headers[name])
        if status != 200:
            problems.append(f"{name}: {status} {payload[:200]!r}")
    for name in ("protected", "stack"):
        for missing in ("X-Api-Key", "Authorization"):
            partial = {k: v for k, v in headers[name].items() if k != missing}
            status = request(port, "POST", PATHS[name], BODY, partial)[0]
            if status not in (401, 403):
                problems.append(f"{name} without {missing}: {status}, not 401/403")
    return problems


def throughput(database_url: str, redis_url: str) -> dict[str, Row]:
    import dj_database_url
    from rest_framework_api_key.models import APIKey

    database = str(dj_database_url.parse(database_url)["NAME"])
    _key, raw_key = bench_key()
    _stack_key, raw_stack_key = APIKey.objects.create_key(name="bench stack")
    tool = load_tool()
    if tool == "python":
        print(
            "wrk is not installed (apt-get install wrk): falling back to a Python load "
            "generator, which saturates long before the server does; ratios understate "
            "every difference."
        )
    clients = (
        f"{CONNECTIONS} connections"
        if tool == "wrk"
        else f"{python_clients(CONNECTIONS)} client processes"
    )
    print(
        f"== lookup throughput: {tool}, {clients}, {WORKERS} gunicorn workers, "
        f"{ROUNDS} rounds x {SECONDS}s per row, interleaved; {os.cpu_count()} CPUs shared "
        f"with PostgreSQL, Redis and {tool} =="
    )
    rows = {name: Row(name) for name in ROWS}
    with GunicornServer(env=_server_env(database_url, redis_url), workers=WORKERS) as server:
        headers = {
            "plain": {},
            "floor": {},
            "protected": _protected_headers(server.port, raw_key),
            "stack": _stack_headers(raw_stack_key),
        }
        problems = preflight(server.port, headers)
        if problems:
            sys.exit("A row is not measuring what it should:\n  " + "\n  ".join(problems))
        # Untimed warm-up: the first row measured on cold workers (imports,
        # connections, caches) would otherwise read about half its speed.
        for name in ROWS:
            _load(server.port, name, headers[name], seconds=WARMUP)
        for _ in range(ROUNDS):
            # A fresh session and token each round: runs longer than the
            # session token's lifetime must not turn into 401s.
            headers["protected"] = _protected_headers(server.port, raw_key)
            headers["stack"] = _stack_headers(raw_stack_key)
            for name in ROWS:
                measure(rows[name], server=server, database=database, headers=headers[name])
        # wrk counts non-2xx answers but never says which: one more request
        # from each failing row shows what it was answering.
        samples = [
            (name, *request(server.port, "POST", PATHS[name], BODY, headers[name]))
            for name in ROWS
            if rows[name].non_2xx
        ]
    print(report(rows, tool=tool))
    for name, status, payload in samples:
        print(f"{name}: one more request now answers {status}: {payload[:300]!r}")
    return rows


if __name__ == "__main__":
    database_url, redis_url = require_services()
    django_setup()
    throughput(database_url, redis_url)
