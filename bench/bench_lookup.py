"""Lookup throughput, side by side (issues 10 and 17): every row interleaved in one run.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_lookup.py \\
        [--rounds 3] [--seconds 10] [--rows plain,protected,…] \\
        [--baseline-dir /tmp/gh-before [--baseline-database-url postgres://…]]

Every row is a POST of ``{"email": …}`` on gunicorn workers of the same
number. The served rows are answered by the same Person query and differ
only in what guards it:

- plain:     ``/api/test/plain-lookup``, a DRF view with no protection;
- floor:     ``/api/test/floor-lookup``, plain plus one Redis counter, the
             least any limiter whose counters are shared across processes adds;
- protected: ``/api/v1/persons/lookup``, gatehouse: API key, Bearer session
             token, scope, blocks, every rate limit (business limits raised so
             it answers 200);
- dpop:      the same with a DPoP-bound session and a fresh proof per request
             (signed beforehand; ``bench/bench_dpop_lookup.py`` explains how);
- stack:     ``/api/test/stack-lookup``, what a Django team would assemble
             instead: djangorestframework-api-key's HasAPIKey, simplejwt's
             JWTStatelessUserAuthentication and DRF throttles on Redis per IP,
             per token subject and per scope (``tests/support/server_stack.py``).

The denial rows (invalid-key, blocked-ip, over-budget, forged-token) are
floods the protected lookup refuses; ``bench/lookup_rows.py`` says what each
sends and the status and code it must get. ``--baseline-dir`` serves the
protected lookup and the denial rows from another checkout too (an older
commit's, ``bench/lookup_trees.py``), as rows named ``…@before``.

Rows run in rounds (each row once per round) so drift and other load on the
machine hit them alike; each row's median requests/second counts. Before
measuring, every row's answer is checked (a denial row must be refused with
its code); the script stops if one is not. Only HTTP and each tree's
``manage.py`` are used: nothing here knows how the pipeline is built. Load
comes from wrk when installed (``apt-get install wrk``), else from a
multi-process Python generator, which is much slower and says so.

Environment: BENCH_SECONDS (10 per row and round), BENCH_ROUNDS (3),
BENCH_CONNECTIONS (32), BENCH_WORKERS (4 gunicorn workers), BENCH_WRK_THREADS
(2, in bench/load.py), BENCH_WARMUP_SECONDS (2 per row, untimed, before the
rounds); ``--rounds`` and ``--seconds`` override the first two.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
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
from bench.lookup_figures import (  # noqa: E402, F401 (re-exported for the other benches)
    CPU_GROUPS,
    Row,
    cpu_ratios,
    ratios,
    report,
    rows_table,
)
from bench.lookup_plans import plans_build, preflight  # noqa: E402
from bench.lookup_rows import BODY, DENIALS, PATHS, Plan, session_headers  # noqa: E402
from bench.lookup_trees import (  # noqa: E402, F401 (re-exported for the other benches)
    HUGE,
    UNLIMITED_SIGNUP,
    Tree,
    bench_server_env,
)
from tests.support.gunicorn import GunicornServer, request, server_env  # noqa: E402

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
WARMUP = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
ROWS = ("plain", "floor", "protected", "stack")  # issue 10's rows
ALL_ROWS = ("plain", "floor", "protected", "dpop", "stack", *DENIALS)
WARMUP_PROOFS = 4000  # enough for 2,000 requests/s over a 2 s warm-up
DEFAULT_IAT_WINDOW = 60


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
    seconds: int = SECONDS,
) -> None:
    """One load run of ``row`` (on ``PATHS[row.name]`` unless ``path``, with a
    value per request from ``header_files``); adds its figures and CPU to the row."""
    group = os.getpgid(server.process.pid)
    before, children_before = cpu_by_process(group, database), children_cpu_seconds()
    busy_before, started = machine_busy_seconds(), time.monotonic()
    load = _load(
        server.port, row.name, headers, seconds=seconds, path=path, header_files=header_files
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
    """The bench server's environment for this worktree (huge limits)."""
    return bench_server_env(database_url, redis_url, root=ROOT)


def _protected_headers(port: int, raw_key: str) -> dict[str, str]:
    """A fresh session the way clients get one (the bench key requires no evidence)."""
    return session_headers(port, raw_key)


# --- The run --------------------------------------------------------------------


def iat_window(seconds: int) -> int:
    """DPoP proofs are signed before a run: rounds over ~40 s outlive the default window."""
    return DEFAULT_IAT_WINDOW if seconds <= 40 else seconds + 60


def _loadavg() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _run(plan: Plan, row: Row, *, seconds: int, proofs: int) -> None:
    """One measured run of ``plan`` with fresh credentials, then one checked answer."""
    headers = plan.renew()
    if plan.dpop:
        plan.dpop.sign(proofs)
    measure(
        row,
        server=plan.server,
        database=plan.database,
        headers=headers,
        path=plan.path,
        header_files=plan.header_files(),
        seconds=seconds,
    )
    if plan.refused:
        # wrk counts non-2xx answers but never says which: one more request
        # shows that the row is still refused with its code.
        problem = plan.check()
        if problem:
            row.problems.append(f"after round {len(row.loads)}: {problem}")


def throughput(
    database_url: str,
    redis_url: str,
    *,
    rounds: int = ROUNDS,
    seconds: int = SECONDS,
    rows: tuple[str, ...] = ALL_ROWS,
    baseline: Path | None = None,
    baseline_database_url: str = "",
) -> dict[str, Row]:
    """Measure ``rows`` (and, with ``baseline``, the protected and denial rows
    of that checkout) in ``rounds`` interleaved rounds; print the table."""
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
    window = iat_window(seconds)
    print(
        f"== lookup throughput: {tool}, {clients}, {WORKERS} gunicorn workers, "
        f"{rounds} rounds x {seconds}s per row, interleaved; {os.cpu_count()} CPUs shared "
        f"with PostgreSQL, Redis and {tool}; DPOP_IAT_WINDOW {window}s =="
    )
    if rounds < 3:
        print("(fewer than 3 rounds: a smoke run, not figures to judge targets on)")
    print(f"load average before: {_loadavg()}", flush=True)
    trees = [
        Tree(
            label="",
            root=ROOT,
            database_url=database_url,
            redis_url=redis_url,
            settings={"DPOP_IAT_WINDOW": window} if window != DEFAULT_IAT_WINDOW else {},
        )
    ]
    if baseline is not None:
        trees.append(
            Tree(
                label="before",
                root=baseline.resolve(),
                database_url=baseline_database_url or database_url,
                redis_url=redis_url,
                settings=trees[0].settings,
            )
        )
        print(f"before: {baseline.resolve()} ({_describe(baseline)})")
    with ExitStack() as stack:
        plans = plans_build(trees, stack=stack, rows=rows, workers=WORKERS)
        problems = preflight(plans)
        if problems:
            sys.exit("A row is not measuring what it should:\n  " + "\n  ".join(problems))
        figures = {plan.name: Row(plan.name, refused=plan.refused) for plan in plans}
        # Untimed warm-up: the first row measured on cold workers (imports,
        # connections, caches) would otherwise read about half its speed.
        for plan in plans:
            headers = plan.renew()
            if plan.dpop:
                plan.dpop.sign(WARMUP_PROOFS)
            _load(
                plan.server.port,
                plan.name,
                headers,
                seconds=WARMUP,
                path=plan.path,
                header_files=plan.header_files(),
            )
        proofs = WARMUP_PROOFS
        for number in range(1, rounds + 1):
            print(f"round {number} of {rounds}…", file=sys.stderr, flush=True)
            for plan in plans:
                _run(plan, figures[plan.name], seconds=seconds, proofs=proofs)
                if plan.name == "protected":
                    # The DPoP row gets proofs for twice the rate the Bearer
                    # row just reached: a proof sent twice is refused.
                    reached = figures["protected"].loads[-1].rps
                    proofs = max(proofs, int(reached * seconds * 2) + 2000)
        samples = [
            (plan.name, *request(plan.server.port, "POST", plan.path, BODY, plan.headers))
            for plan in plans
            if not plan.refused and not plan.dpop and figures[plan.name].unexpected
        ]
    print(report(figures, tool=tool))
    for plan in plans:
        if plan.dpop and plan.dpop.signed:
            each = plan.dpop.signing_seconds / plan.dpop.signed * 1e6
            print(f"({plan.name}: {plan.dpop.signed} proofs signed beforehand, {each:.0f} µs each)")
    for name, row in figures.items():
        if row.values_reused:
            print(f"{name}: DPoP proofs reused (replays): {row.values_reused}")
        for problem in row.problems:
            print(f"{name}: {problem}")
    for name, status, payload in samples:
        print(f"{name}: one more request now answers {status}: {payload[:300]!r}")
    print(f"load average after: {_loadavg()}")
    return figures


def _describe(root: Path) -> str:
    """The commit a checkout is at, when it is a git checkout."""
    done = subprocess.run(
        ["git", "-C", str(root), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    return done.stdout.strip()[:80] if done.returncode == 0 else "not a git checkout"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds (3)")
    parser.add_argument("--seconds", type=int, default=SECONDS, help="per row and round (10)")
    parser.add_argument(
        "--rows",
        default=",".join(ALL_ROWS),
        help=f"comma list of rows to run (default: all of {','.join(ALL_ROWS)})",
    )
    parser.add_argument(
        "--baseline-dir",
        type=Path,
        help="another checkout of gatehouse (e.g. a git worktree of the commit before a "
        "change): its protected and denial rows run too, as …@before",
    )
    parser.add_argument(
        "--baseline-database-url",
        default="",
        help="the baseline's database when its schema differs (default: DATABASE_URL)",
    )
    args = parser.parse_args(argv)
    rows = tuple(name.strip() for name in args.rows.split(",") if name.strip())
    unknown = sorted(set(rows) - set(ALL_ROWS))
    if unknown or args.rounds < 1 or args.seconds < 1:
        parser.error(f"unknown rows {unknown}" if unknown else "--rounds and --seconds are >= 1")
    if args.baseline_dir is not None and not (args.baseline_dir / "manage.py").is_file():
        parser.error(f"{args.baseline_dir} is not a gatehouse checkout (no manage.py)")
    database_url, redis_url = require_services()
    django_setup()
    throughput(
        database_url,
        redis_url,
        rounds=args.rounds,
        seconds=args.seconds,
        rows=rows,
        baseline=args.baseline_dir,
        baseline_database_url=args.baseline_database_url,
    )


if __name__ == "__main__":
    os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")  # no line per key created
    # Stopped from outside: unwind, so the servers stop and the block is lifted.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
