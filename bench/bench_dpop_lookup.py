"""A DPoP-protected lookup next to a Bearer one (issue 13): one gunicorn, two rows, interleaved.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_dpop_lookup.py

Both rows POST ``{"email": …}`` to ``/api/v1/persons/lookup`` with the same
API key checks, rate limits and Person query; only the session differs:

- bearer: a session started without a proof, ``Authorization: Bearer <access>``
  (the ``protected`` row of ``bench/bench_lookup.py``);
- dpop:   a session bound to a P-256 key (the API key requires ``dpop``),
  ``Authorization: DPoP <access>`` and a fresh ``DPoP`` proof on every request
  (ES256 signature, htm, htu, iat, ath, and its jti spent in Redis).

wrk cannot sign, so the proofs are signed beforehand: before each DPoP run
this script signs enough proofs for it (from the warm-up's rate, twice over)
into a file that wrk's Lua script reads, each thread cycling through its own
share (``header_files`` in ``bench/load.py``). Every proof has its own jti and
the access token's ``ath``; a proof sent twice would be refused as a replay,
so the table counts any reuse as an error. Signing is not timed.

The proofs' ``iat`` is the moment they were signed, and the server accepts
``DPOP_IAT_WINDOW`` seconds either side (60 by default): rounds longer than
about 40 s would outlive it, so the bench server's window is widened to
``BENCH_SECONDS`` + 60 then (``GATEHOUSE_TEST_SETTINGS``; the script says so).
The server's ``GATEHOUSE_PUBLIC_BASE_URL`` is the base the proofs' htu name.

Environment: those of ``bench/bench_lookup.py`` (BENCH_SECONDS, BENCH_ROUNDS,
BENCH_CONNECTIONS, BENCH_WORKERS, BENCH_WRK_THREADS, BENCH_WARMUP_SECONDS).
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_lookup import (  # noqa: E402
    BODY,
    CONNECTIONS,
    CPU_GROUPS,
    ROUNDS,
    SECONDS,
    WARMUP,
    WORKERS,
    Row,
    _load,
    _protected_headers,
    _server_env,
    bench_key,
    django_setup,
    measure,
    require_services,
    rows_table,
)
from bench.load import load_tool  # noqa: E402
from tests.support.dpop import BASE_URL, DpopClient  # noqa: E402
from tests.support.gunicorn import GunicornServer, request  # noqa: E402

PATH = "/api/v1/persons/lookup"
ROWS = ("bearer", "dpop")
DEFAULT_IAT_WINDOW = 60
# Signing a round's proofs and starting wrk take a few seconds of the window.
IAT_WINDOW = DEFAULT_IAT_WINDOW if SECONDS <= 40 else SECONDS + 60
WARMUP_PROOFS = 4000  # enough for 2,000 requests/s over a 2 s warm-up
SERVER_SIDE = ("server", "postgres", "redis")


def dpop_server_env(database_url: str, redis_url: str) -> dict[str, str]:
    """The lookup bench's server, with the public base URL the proofs' htu name."""
    env = _server_env(database_url, redis_url)
    env["GATEHOUSE_PUBLIC_BASE_URL"] = BASE_URL
    if IAT_WINDOW != DEFAULT_IAT_WINDOW:
        settings = json.loads(env["GATEHOUSE_TEST_SETTINGS"])
        env["GATEHOUSE_TEST_SETTINGS"] = json.dumps({**settings, "DPOP_IAT_WINDOW": IAT_WINDOW})
    return env


def dpop_key() -> tuple[object, str]:
    """A gatehouse key that requires a DPoP-bound session and nothing else."""
    from protection.keys import api_key_create

    return api_key_create(
        name="bench dpop",
        kind="secret",
        scopes=["session", "lookup", "create"],
        required_verifications=["dpop"],
    )


def dpop_session(port: int, raw_key: str, client: DpopClient) -> tuple[dict[str, str], str]:
    """A session bound to ``client``'s key: the lookup's fixed headers and its access token."""
    headers = {"X-Api-Key": raw_key}
    proof = client.proof(url=BASE_URL + "/api/v1/sessions")
    status, payload = request(port, "POST", "/api/v1/sessions", {}, {**headers, "DPoP": proof})
    if status != 201:
        sys.exit(f"POST /api/v1/sessions with a DPoP proof answered {status}: {payload!r}")
    tokens = json.loads(payload)
    if tokens.get("token_type") != "DPoP":
        sys.exit(f"the session is not DPoP-bound: token_type {tokens.get('token_type')!r}")
    return {**headers, "Authorization": f"DPoP {tokens['access']}"}, tokens["access"]


def sign_proofs(client: DpopClient, access: str, count: int, file: Path) -> float:
    """Write ``count`` fresh proofs for the lookup, one a line; returns the seconds it took."""
    started = time.monotonic()
    url = BASE_URL + PATH
    with file.open("w") as out:
        for _ in range(count):
            out.write(client.proof(url=url, access_token=access) + "\n")
    return time.monotonic() - started


def preflight(
    port: int, bearer: dict[str, str], dpop: dict[str, str], client: DpopClient, access: str
) -> list[str]:
    """Both rows answer 200; the DPoP row refuses what a stolen token would
    try (no proof, a replayed proof, the Bearer scheme). Returns the problems."""
    problems = []

    def lookup(headers: dict[str, str]) -> tuple[int, bytes]:
        return request(port, "POST", PATH, BODY, headers)

    status, payload = lookup(bearer)
    if status != 200:
        problems.append(f"bearer: {status} {payload[:200]!r}")
    proof = client.proof(url=BASE_URL + PATH, access_token=access)
    status, payload = lookup({**dpop, "DPoP": proof})
    if status != 200:
        problems.append(f"dpop: {status} {payload[:200]!r}")
    refusals = {
        "the same proof again": {**dpop, "DPoP": proof},
        "no proof": dpop,
        "the Bearer scheme": {
            **dpop,
            "Authorization": f"Bearer {access}",
            "DPoP": client.proof(url=BASE_URL + PATH, access_token=access),
        },
    }
    for what, headers in refusals.items():
        status = lookup(headers)[0]
        if status != 401:
            problems.append(f"dpop with {what}: {status}, not 401")
    return problems


def ratio_lines(rows: dict[str, Row]) -> list[str]:
    """dpop/bearer from the median requests/s and from CPU per request."""
    bearer, dpop = rows["bearer"], rows["dpop"]
    cpu = {name: row.cpu_ms_per_request() for name, row in rows.items()}
    total = {name: sum(values.values()) for name, values in cpu.items()}
    server_side = {name: sum(cpu[name][group] for group in SERVER_SIDE) for name in rows}
    lines = [f"{'ratio':<13}{'r/s':>6}{'CPU':>7}{'CPU w/o load':>14}"]
    by_rps = dpop.median_rps / bearer.median_rps if bearer.median_rps else 0.0
    by_cpu = total["bearer"] / total["dpop"] if total["dpop"] else 0.0
    by_server = server_side["bearer"] / server_side["dpop"] if server_side["dpop"] else 0.0
    lines.append(f"{'dpop/bearer':<13}{by_rps:>6.2f}{by_cpu:>7.2f}{by_server:>14.2f}")
    lines.append(
        "(CPU: bearer's CPU per request / dpop's, all processes; w/o load: server, "
        "PostgreSQL and Redis only, leaving out the load generator's Lua request() per proof)"
    )
    extra = server_side["dpop"] - server_side["bearer"]
    lines.append(
        f"A DPoP-bound lookup costs {extra:+.2f} ms of server-side CPU per request "
        f"({server_side['dpop']:.2f} vs {server_side['bearer']:.2f} ms)."
    )
    return lines


def throughput(database_url: str, redis_url: str) -> dict[str, Row]:
    import dj_database_url

    database = str(dj_database_url.parse(database_url)["NAME"])
    _key, raw_key = bench_key()
    _dpop_key, raw_dpop_key = dpop_key()
    tool = load_tool()
    window = (
        f"DPOP_IAT_WINDOW {IAT_WINDOW}s (widened for rounds of {SECONDS}s)"
        if IAT_WINDOW != DEFAULT_IAT_WINDOW
        else f"DPOP_IAT_WINDOW {IAT_WINDOW}s (the default)"
    )
    print(
        f"== DPoP vs Bearer lookup: {tool}, {CONNECTIONS} connections, {WORKERS} gunicorn "
        f"workers, {ROUNDS} rounds x {SECONDS}s per row, interleaved; {os.cpu_count()} CPUs "
        f"shared with PostgreSQL, Redis and {tool}; {window} =="
    )
    rows = {name: Row(name) for name in ROWS}
    client = DpopClient()
    workdir = Path(tempfile.mkdtemp(prefix="gh-bench-dpop-"))
    proofs = workdir / "proofs.txt"
    files = {"DPoP": str(proofs)}
    signed = signing = 0.0
    with GunicornServer(env=dpop_server_env(database_url, redis_url), workers=WORKERS) as server:
        bearer = _protected_headers(server.port, raw_key)
        dpop, access = dpop_session(server.port, raw_dpop_key, client)
        problems = preflight(server.port, bearer, dpop, client, access)
        if problems:
            sys.exit("A row is not measuring what it should:\n  " + "\n  ".join(problems))
        # Untimed warm-up, which also tells how many proofs a round needs.
        warm = {"bearer": _load(server.port, "bearer", bearer, seconds=WARMUP, path=PATH)}
        sign_proofs(client, access, WARMUP_PROOFS, proofs)
        warm["dpop"] = _load(
            server.port, "dpop", dpop, seconds=WARMUP, path=PATH, header_files=files
        )
        rate = max(load.rps for load in warm.values())
        per_round = int(rate * SECONDS * 2) + 2000
        print(f"warm-up: {rate:.0f} r/s at most; signing {per_round}+ proofs per DPoP round")
        for _ in range(ROUNDS):
            # A fresh session each round, as bench_lookup does; the proofs
            # carry the new token's hash and a fresh iat.
            bearer = _protected_headers(server.port, raw_key)
            dpop, access = dpop_session(server.port, raw_dpop_key, client)
            measure(rows["bearer"], server=server, database=database, headers=bearer, path=PATH)
            # Enough for twice the rate the Bearer row just reached, should the
            # machine have got quieter since the warm-up.
            per_round = max(per_round, int(rows["bearer"].loads[-1].rps * SECONDS * 2) + 2000)
            signing += sign_proofs(client, access, per_round, proofs)
            signed += per_round
            measure(
                rows["dpop"],
                server=server,
                database=database,
                headers=dpop,
                path=PATH,
                header_files=files,
            )
        samples = [("bearer", *request(server.port, "POST", PATH, BODY, bearer))]
        samples.append(
            (
                "dpop",
                *request(
                    server.port,
                    "POST",
                    PATH,
                    BODY,
                    {**dpop, "DPoP": client.proof(url=BASE_URL + PATH, access_token=access)},
                ),
            )
        )
    proofs.unlink(missing_ok=True)
    workdir.rmdir()
    lines = rows_table(rows, tool=tool)
    lines.append(f"{'':<11}{'proofs reused (replays): ' + str(rows['dpop'].values_reused)}")
    print("\n".join(lines))
    print()
    print("\n".join(ratio_lines(rows)))
    if signed:
        print(
            f"(proofs signed beforehand, untimed: {signed:.0f} at "
            f"{signing / signed * 1e6:.0f} µs each in this process; CPU groups: "
            f"{', '.join(CPU_GROUPS)})"
        )
    for name, status, payload in samples:
        if rows[name].non_2xx:
            print(f"{name}: one more request now answers {status}: {payload[:300]!r}")
    return rows


if __name__ == "__main__":
    os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")  # no line per key created
    database_url, redis_url = require_services()
    django_setup()
    throughput(database_url, redis_url)
