"""Health latency under admin login floods, through nginx (the shipped template)
and gunicorn (the shipped config, 4 sync workers), with Django's real password
hasher (PBKDF2).

Prints health's median and 90th percentile answer time (``GET
/api/v1/health`` every 0.1 s from another address for 10 s) at rest and
under 8 and 32 login streams, each posting random usernames and passwords
(with the login page's CSRF token) as fast as it is answered, from a new
loopback address for every attempt (an attacker rotating through its
addresses); and how the attempts were answered.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_bench \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/admin_login_flood.py
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.adminlogin import LoginFlood, health_latencies  # noqa: E402
from tests.support.gunicorn import GunicornServer, server_env  # noqa: E402
from tests.support.nginx import NginxServer, nginx_available  # noqa: E402

PROBE = "127.0.2.1"
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))


def row(label: str, times: list[float], statuses: dict | None = None) -> str:
    if not times:
        return f"{label:22}  no answer"
    ordered = sorted(times)
    p90 = ordered[int(len(ordered) * 0.9) - 1] if len(ordered) >= 10 else ordered[-1]
    answers = ", ".join(f"{code}: {n}" for code, n in sorted((statuses or {}).items()))
    median = statistics.median(times) * 1000
    return f"{label:22}  median {median:7.1f} ms  p90 {p90 * 1000:7.1f} ms  {answers}"


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not nginx_available():
        sys.exit("Set DATABASE_URL=postgres://... and REDIS_URL=redis://..., install nginx")
    env = server_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-bench-{uuid.uuid4().hex[:8]}",
    )
    env["GATEHOUSE_TRUSTED_PROXIES"] = "1"
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"  # the real hasher, the real limits
    full = {**os.environ, **env}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=full, check=True)
    with tempfile.TemporaryDirectory() as directory:
        with GunicornServer(env=env, workers=4, production_config=True) as app:
            with NginxServer(upstream=f"127.0.0.1:{app.port}", directory=Path(directory)) as front:
                print(row("at rest", health_latencies(front.port, source=PROBE, seconds=SECONDS)))
                for streams in (8, 32):
                    with LoginFlood(front.port, streams=streams, rotate=True) as flood:
                        time.sleep(2)
                        times = health_latencies(front.port, source=PROBE, seconds=SECONDS)
                    print(row(f"{streams} login streams", times, dict(flood.statuses)))
                    time.sleep(61)  # the next row starts with fresh per-minute budgets


if __name__ == "__main__":
    main()
