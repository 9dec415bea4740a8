"""How many round trips this machine's Redis and PostgreSQL carry per second.

The inputs of docs/capacity.md: for ``--seconds`` each (default 5), from 1
and from ``--procs`` processes (each its own connection, so the client's GIL
is not what is measured):

- Redis: ``INCR``; ``EVALSHA`` of a script like the rate limiter's (three
  windows: INCR + EXPIRE on first hit, one round trip);
- PostgreSQL: a single-row SELECT by primary key; a single-row INSERT in its
  own transaction (the commit is the cost: WAL flush).

Uses its own Redis keys (``gh-capacity:*``, deleted after) and a temporary
table. Figures depend on the machine and on what else runs on it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_bench \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/capacity.py
"""

import argparse
import multiprocessing
import os
import sys
import time

import psycopg
import redis

LIMITER_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('EXPIRE', key, tonumber(ARGV[i])) end
  out[i] = n
end
return out
"""


def _redis_incr(url: str, seconds: float, worker: int) -> int:
    client = redis.Redis.from_url(url)
    key, n, end = f"gh-capacity:incr:{worker}", 0, time.monotonic() + seconds
    while time.monotonic() < end:
        client.incr(key)
        n += 1
    client.delete(key)
    return n


def _redis_evalsha(url: str, seconds: float, worker: int) -> int:
    client = redis.Redis.from_url(url)
    sha = client.script_load(LIMITER_SCRIPT)
    keys = [f"gh-capacity:lim:{worker}:{window}" for window in ("m", "h", "d")]
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        client.evalsha(sha, 3, *keys, 60, 3600, 86400)
        n += 1
    client.delete(*keys)
    return n


def _pg_select(url: str, seconds: float, worker: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            conn.execute("SELECT id, v FROM gh_capacity WHERE id = %s", (n % 1000 + 1,)).fetchone()
            n += 1
    return n


def _pg_insert(url: str, seconds: float, worker: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            conn.execute("INSERT INTO gh_capacity_w (v) VALUES (%s)", (f"w{worker}-{n}",))
            n += 1
    return n


def _run(target, url: str, seconds: float, procs: int) -> float:
    with multiprocessing.Pool(procs) as pool:
        counts = pool.starmap(target, [(url, seconds, w) for w in range(procs)])
    return sum(counts) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--procs", type=int, default=4)
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url.startswith("redis"):
        sys.exit("Set DATABASE_URL=postgres://... and REDIS_URL=redis://...")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS gh_capacity, gh_capacity_w")
        conn.execute("CREATE TABLE gh_capacity (id int PRIMARY KEY, v text)")
        conn.execute(
            "INSERT INTO gh_capacity SELECT g, md5(g::text) FROM generate_series(1, 1000) g"
        )
        conn.execute("CREATE TABLE gh_capacity_w (id bigserial PRIMARY KEY, v text)")
    try:
        print(f"{'operation':34} {'1 client/s':>12} {f'{args.procs} clients/s':>12}")
        for name, target, url in (
            ("Redis INCR", _redis_incr, redis_url),
            ("Redis EVALSHA (3-window limiter)", _redis_evalsha, redis_url),
            ("PostgreSQL SELECT by primary key", _pg_select, database_url),
            ("PostgreSQL INSERT + commit", _pg_insert, database_url),
        ):
            one = _run(target, url, args.seconds, 1)
            many = _run(target, url, args.seconds, args.procs)
            print(f"{name:34} {one:12.0f} {many:12.0f}", flush=True)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS gh_capacity, gh_capacity_w")


if __name__ == "__main__":
    main()
