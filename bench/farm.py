"""A sign-up farm against gatehouse, next to clean clients: admitted/attempted per cohort.

    DATABASE_URL=postgres://…/gh_farm REDIS_URL=redis://…/n .venv/bin/python bench/farm.py
    … bench/farm.py --scale 5 --policy deploy/policy/example.toml

Every account is what a farm's script does: start a session, then create
one person, from the address its cohort gives it. The cohorts:

- ``hosting``: a fresh address per account in one hosting network (cloud
  VMs: AS 64512, class ``hosting``), distinct identities;
- ``gmail-variants``: rotating residential addresses (16 AS numbers) with
  plus-addressed and dotted variants of one Gmail mailbox
  (``jo.hn…+7@googlemail.com``);
- ``one-device``: one device id from rotating residential addresses,
  distinct emails;
- ``one-asn``: one (non-hosting) AS number at a high rate, distinct identities;
- ``clean``: clients from six AS numbers (one over IPv6), each with its own
  address, email and device.

All accounts run interleaved, at once, so the clean clients meet the farm's
traffic. The farm's addresses are in 198.18.0.0/15 (RFC 2544's benchmark
range), the clean clients' in the documentation ranges (RFC 5737, RFC 3849);
the AS numbers are private-use (RFC 6996). The key requires no evidence
(``--require none``), and neither its network policy nor its challenge ladder
adds any (``--network-policy`` allowing every class, ``--ladder off``): this
measures identity velocity and the per-AS limits, not proof of work (what
the network policy's ``harder`` and the ladder add to a farm's cost is
docs/farms.md's and docs/evidence.md's: with them, the hosting cohort and
the one-device cohort are refused at session start). The server trusts one
proxy hop, so each account names its address in ``X-Forwarded-For``;
automatic blocking is off (``tests.support.server_settings``): the limits
alone.

Targets (issue 18), with ``deploy/policy/strict.toml`` (the default): every
farm cohort admitted at most 5 % of its attempts, or no more than its
limit allows in the windows the run spanned; every clean client admitted.
Exits 1 when a target is missed.

The script loads its network-origin data into the database it is given
(``netintel_update --from``, replacing any dataset there) and starts its
own gunicorn: give it a database of its own. Its counters live under a
fresh cache prefix.
"""

import argparse
import http.client
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
import tomllib
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gunicorn import GunicornServer, server_env  # noqa: E402
from tests.support.netintel import write_sources  # noqa: E402

STRICT = ROOT / "deploy" / "policy" / "strict.toml"
# The farm's key: no evidence from anyone (see the module's docstring).
FARM_KEY_NETWORK_POLICY = "hosting=allow,vpn=allow,proxy=allow,tor=allow"
FARM_SHARE = 0.05  # the target: at most 5 % of a farm cohort's attempts

# --- where every address comes from ------------------------------------------------

HOSTING_AS, BULK_AS, RESIDENTIAL_AS = 64512, 64513, 64520  # 64520-64535
CLEAN_NETWORKS = (  # (AS number, first address, how to name the n-th client)
    (64600, "192.0.2.{}"),
    (64601, "192.0.2.{}"),
    (64602, "198.51.100.{}"),
    (64603, "198.51.100.{}"),
    (64604, "203.0.113.{}"),
    (64605, "2001:db8:1:{}::1"),
)
CLEAN_OFFSETS = (1, 129, 1, 129, 1, 1)  # the first client of each network


def farm_sources() -> dict[str, str | None]:
    """The network-origin files (``tests.support.netintel.write_sources``)."""
    v4 = [
        f"198.18.0.0\t198.18.127.255\t{HOSTING_AS}\tXA\tFARM-CLOUD Example Cloud Hosting",
        f"198.19.0.0\t198.19.255.255\t{BULK_AS}\tXB\tBULK-ISP Example Bulk Broadband",
    ]
    for index in range(16):  # 198.18.128.0/17 as 16 residential /21s
        third = 128 + 8 * index
        v4.append(
            f"198.18.{third}.0\t198.18.{third + 7}.255\t{RESIDENTIAL_AS + index}\tXC\t"
            f"RESI-{index} Example Residential"
        )
    v4 += [
        "192.0.2.0\t192.0.2.127\t64600\tXD\tCLEAN-1 Example Telecom",
        "192.0.2.128\t192.0.2.255\t64601\tXD\tCLEAN-2 Example Cable",
        "198.51.100.0\t198.51.100.127\t64602\tXE\tCLEAN-3 Example Mobile",
        "198.51.100.128\t198.51.100.255\t64603\tXE\tCLEAN-4 Example Fibre",
        "203.0.113.0\t203.0.113.255\t64604\tXF\tCLEAN-5 Example University",
    ]
    v6 = "2001:db8:1::\t2001:db8:1:ffff:ffff:ffff:ffff:ffff\t64605\tXF\tCLEAN-6 Example IPv6\n"
    return {
        "ip2asn_v4": "\n".join(v4) + "\n",
        "ip2asn_v6": v6,
        "hosting": "# the farm's cloud\n198.18.0.0/17\n",
        "vpn": None,
        "tor": None,
        "proxy": None,
    }


# --- cohorts ----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    ip: str
    email: str
    device: str


@dataclass(frozen=True)
class Cohort:
    name: str
    farm: bool
    accounts: tuple[Account, ...]
    # The create limit that should stop it, and how many of its budgets
    # (AS numbers, mailboxes, devices) the cohort spends.
    binding: str = ""
    budgets: int = 1


def _octets(n: int, first_third: int) -> str:
    """The n-th address from 198.18.<first_third>.1 on (third octets past 255 go on in 198.19)."""
    third = first_third + n // 250
    return f"198.{18 + third // 256}.{third % 256}.{n % 250 + 1}"


def _residential(n: int) -> str:
    """The n-th rotating residential address: spread over the 16 residential ASes."""
    network, host = n % 16, n // 16
    return f"198.18.{128 + 8 * network + host // 250}.{host % 250 + 1}"


def _gmail_variant(base: str, n: int) -> str:
    """A plus-addressed, dotted, case-varied variant of ``base``@gmail.com."""
    dot = 1 + n % (len(base) - 1)
    local = base[:dot] + "." + base[dot:]
    local = local.upper() if n % 5 == 0 else local
    domain = "googlemail.com" if n % 2 else "gmail.com"
    return f"{local}+{n}@{domain}"


def farm_cohorts(*, scale: int = 1, run: str = "") -> list[Cohort]:
    """The cohorts, ``scale`` times the farm's default size. ``run`` makes this
    run's identities its own (a day's mailbox budget outlives a run)."""
    run = run or uuid.uuid4().hex[:8]
    hosting = tuple(
        Account(_octets(n, 0), f"vm{n}-{run}@mail-{n % 9}.example", f"vm-{run}-{n}")
        for n in range(400 * scale)
    )
    base = f"johnsmith{run}"
    gmail = tuple(
        Account(_residential(n), _gmail_variant(base, n), f"g-{run}-{n}")
        for n in range(100 * scale)
    )
    device = tuple(
        Account(_residential(5000 + n), f"d{n}-{run}@post-{n % 9}.example", f"phone-{run}")
        for n in range(100 * scale)
    )
    bulk = tuple(
        Account(_octets(n, 256), f"b{n}-{run}@bulk-{n % 9}.example", f"b-{run}-{n}")
        for n in range(400 * scale)
    )
    clean = tuple(
        Account(
            pattern.format(CLEAN_OFFSETS[index] + n if "." in pattern else f"{n + 1:x}"),
            f"person{index}x{n}-{run}@home-{index}.example",
            f"c-{run}-{index}-{n}",
        )
        for index, (_asn, pattern) in enumerate(CLEAN_NETWORKS)
        for n in range(12)
    )
    return [
        Cohort("hosting", True, hosting, "asn"),
        Cohort("gmail-variants", True, gmail, "mailbox"),
        Cohort("one-device", True, device, "device"),
        Cohort("one-asn", True, bulk, "asn"),
        Cohort("clean", False, clean),
    ]


# --- running them ------------------------------------------------------------------


def _post(port: int, path: str, body: dict, headers: dict) -> tuple[int, dict, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        payload = json.dumps(body).encode()
        connection.request(
            "POST", path, body=payload, headers={"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        text = response.read().decode()
        return response.status, json.loads(text or "{}"), response.getheader("RateLimit") or ""
    finally:
        connection.close()


def _refused_by(ratelimit: str, body: dict) -> str:
    """The limit a 429 names (its RateLimit entry with nothing left), else the code."""
    for entry in ratelimit.split(","):
        name, _, params = entry.strip().partition(";")
        if "r=0" in params.split(";"):
            return name.strip('"').rsplit("-", 1)[0]
    return str(body.get("code", "?"))


def account_create(port: int, raw_key: str, account: Account) -> tuple[int, str]:
    """Start a session and create the account's person: (create status, what refused it)."""
    headers = {"X-Api-Key": raw_key, "X-Forwarded-For": account.ip}
    status, body, ratelimit = _post(
        port, "/api/v1/sessions", {"device_id": account.device}, headers
    )
    if status != 201:
        return status, "session:" + _refused_by(ratelimit, body)
    headers["Authorization"] = f"Bearer {body['access']}"
    person = {"email": account.email, "full_name": "Farm Account"}
    status, body, ratelimit = _post(port, "/api/v1/persons", person, headers)
    return status, "" if status == 201 else _refused_by(ratelimit, body)


@dataclass
class CohortResult:
    cohort: Cohort
    attempted: int = 0
    admitted: int = 0
    refused_by: Counter = field(default_factory=Counter)
    allowance: int = 0  # what its binding limit allows in the windows the run spanned

    @property
    def share(self) -> float:
        return self.admitted / self.attempted if self.attempted else 0.0


def farm_run(
    port: int, raw_key: str, cohorts: list[Cohort], *, concurrency: int = 16, seed: int = 18
) -> tuple[list[CohortResult], float]:
    """Every account of every cohort, shuffled together, ``concurrency`` at a time.
    Returns each cohort's result and the seconds the run took."""
    work = [(cohort.name, account) for cohort in cohorts for account in cohort.accounts]
    random.Random(seed).shuffle(work)
    results = {cohort.name: CohortResult(cohort) for cohort in cohorts}
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        outcomes = pool.map(lambda item: account_create(port, raw_key, item[1]), work)
        for (name, _account), (status, refused_by) in zip(work, outcomes, strict=True):
            result = results[name]
            result.attempted += 1
            result.admitted += status == 201
            if status != 201:
                result.refused_by[f"{status} {refused_by}"] += 1
    return list(results.values()), time.monotonic() - started


# --- what the policy allows, and the targets ------------------------------------------


def create_rates(policy: Path | None) -> dict[str, list[str]]:
    """The create group's rates in force with ``policy`` over the defaults."""
    from protection.conf import DEFAULTS

    rates = dict(DEFAULTS["RATE_LIMITS"]["create"])
    if policy is not None:
        with policy.open("rb") as file:
            rates.update(tomllib.load(file).get("rate_limits", {}).get("create", {}))
    return rates


def _allowed(rates: list[str], seconds: float) -> int:
    """The most a budget of ``rates`` admits in ``seconds``: every window the run
    touched (fixed windows, so a run may span one more than its length)."""
    allowed = []
    for rate in rates:
        count, _, unit = rate.partition("/")
        multiplier = int(unit[:-1] or 1)
        period = multiplier * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit[-1]]
        allowed.append(int(count) * (math.ceil(seconds / period) + 1))
    return min(allowed) if allowed else 10**9


def farm_judge(
    results: list[CohortResult], rates: dict[str, list[str]], seconds: float
) -> list[str]:
    """Fill in each farm cohort's allowance; return the targets missed (none: [])."""
    missed = []
    for result in results:
        cohort = result.cohort
        if not cohort.farm:
            if result.admitted != result.attempted:
                missed.append(f"{cohort.name}: {result.admitted}/{result.attempted} admitted")
            continue
        result.allowance = _allowed(rates.get(cohort.binding, []), seconds) * cohort.budgets
        if result.share > FARM_SHARE and result.admitted > result.allowance:
            missed.append(
                f"{cohort.name}: {result.admitted}/{result.attempted} admitted, over 5 % "
                f"and over what its {cohort.binding} limit allows ({result.allowance})"
            )
    return missed


def farm_report(results: list[CohortResult], seconds: float) -> str:
    requests = sum(2 * r.attempted for r in results)
    lines = [
        f"{'cohort':16} {'kind':5} {'admitted':>8} {'attempted':>9} {'share':>7}  "
        f"{'limit allows':>12}  refused by",
    ]
    for result in results:
        cohort = result.cohort
        allows = f"{result.allowance} ({cohort.binding})" if cohort.farm else ""
        refused = ", ".join(f"{what}: {n}" for what, n in result.refused_by.most_common(3))
        lines.append(
            f"{cohort.name:16} {'farm' if cohort.farm else 'clean':5} {result.admitted:>8} "
            f"{result.attempted:>9} {100 * result.share:>6.1f}%  {allows:>12}  {refused}"
        )
    lines.append(f"{requests} requests in {seconds:.1f} s ({requests / seconds:.0f}/s)")
    return "\n".join(lines)


# --- the bench: its own server ----------------------------------------------------


def farm_server_env(
    database_url: str, redis_url: str, *, cache_prefix: str, policy: Path | None = STRICT
) -> dict[str, str]:
    """A server environment for the farm: one trusted proxy hop, ``policy``."""
    env = server_env(database_url=database_url, redis_url=redis_url, cache_prefix=cache_prefix)
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"
    if policy is not None:
        env["GATEHOUSE_POLICY_FILE"] = str(policy)
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", type=int, default=1, help="farm cohorts' size multiplier")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--policy", type=Path, default=STRICT, help="policy file ('' for the defaults)"
    )
    args = parser.parse_args(argv)
    database_url, redis_url = os.environ.get("DATABASE_URL"), os.environ.get("REDIS_URL")
    if not database_url or not redis_url:
        raise SystemExit("Set DATABASE_URL (PostgreSQL) and REDIS_URL (Redis) for the farm.")
    policy = args.policy if str(args.policy) not in ("", ".") else None
    env = farm_server_env(
        database_url, redis_url, cache_prefix=f"farm-{uuid.uuid4().hex[:8]}", policy=policy
    )
    _manage(env, "migrate", "--no-input", "-v", "0")
    with tempfile.TemporaryDirectory() as directory:
        write_sources(Path(directory), **farm_sources())
        _manage(env, "netintel_update", "--from", directory)
    created = _manage(
        env, "create_api_key", "--name", "farm bench", "--kind", "secret", "--scopes",
        "session,lookup,create", "--require", "none", "--json",
        "--network-policy", FARM_KEY_NETWORK_POLICY, "--ladder", "off",
    )  # fmt: skip
    raw_key = json.loads(created.strip().splitlines()[-1])["key"]
    cohorts = farm_cohorts(scale=args.scale)
    with GunicornServer(env=env, workers=args.workers) as server:
        results, seconds = farm_run(server.port, raw_key, cohorts, concurrency=args.concurrency)
    missed = farm_judge(results, create_rates(policy), seconds)
    print(f"policy: {policy or 'defaults'}; {args.workers} workers; scale {args.scale}")
    print(farm_report(results, seconds))
    for line in missed:
        print(f"target missed: {line}")
    if missed:
        raise SystemExit(1)
    print("targets hold: every farm cohort at most 5 % (or its limit), clean clients 100 %")


if __name__ == "__main__":
    main()
