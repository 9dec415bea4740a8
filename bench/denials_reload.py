"""Denials kept in the audit log across a graceful reload and across worker recycling.

gunicorn with ``config/gunicorn.conf.py`` and 4 sync workers, default write
budget (20 rows/s per worker, the rest added up and written every second).
Row 1: a burst of 3,000 refused requests, 3 s idle, then ``SIGHUP``.
Row 2: the same burst with ``--max-requests 200`` (workers recycle during
it), then shutdown. Prints how many 429s the clients saw and how many
denials the audit log holds (the sum of the rows' ``count``).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_bench \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/denials_reload.py
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gunicorn import GunicornServer, fire, server_env  # noqa: E402

LOGGED = (
    "from django.db.models import Sum; from protection.core.events import SecurityEvent; "
    "print(SecurityEvent.objects.filter(kind='rate_limited', decision='deny', "
    "created_at__gte=__import__('datetime').datetime.fromtimestamp({since}, "
    "__import__('datetime').UTC)).aggregate(n=Sum('count'))['n'] or 0)"
)


def logged(env: dict[str, str], since: float) -> int:
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", LOGGED.format(since=since)],
        cwd=ROOT, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1])


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... and REDIS_URL=redis://...")
    env = server_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-bench-{uuid.uuid4().hex[:8]}",
    )
    full = {**os.environ, **env}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=full, check=True)
    print("scenario                      429s seen  denials logged  lost")
    since = time.time()
    with GunicornServer(env=env, workers=4, production_config=True) as server:
        refused = fire(server.port, "/api/test/proof", total=3000, concurrency=20)[429]
        time.sleep(3)
        os.kill(server.process.pid, signal.SIGHUP)
        time.sleep(5)
        kept = logged(full, since)
    print(f"burst, 3 s idle, SIGHUP      {refused:9}  {kept:14}  {refused - kept:4}")
    env["GATEHOUSE_CACHE_PREFIX"] = f"gh-bench-{uuid.uuid4().hex[:8]}"
    since = time.time()
    recycle = ("--max-requests", "200", "--max-requests-jitter", "0")
    with GunicornServer(env=env, workers=4, production_config=True, extra_args=recycle) as server:
        refused = fire(server.port, "/api/test/proof", total=3000, concurrency=20)[429]
        time.sleep(3)
    time.sleep(2)
    kept = logged({**full, **env}, since)
    print(f"burst, max_requests 200      {refused:9}  {kept:14}  {refused - kept:4}")


if __name__ == "__main__":
    main()
