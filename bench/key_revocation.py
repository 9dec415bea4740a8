"""The revoke→refusal gap of an API key under load, with 4 gunicorn workers.

Eight clients send lookups with one key and session as fast as the workers
answer; after a second an operator's process revokes the key (``manage.py
shell``, the same service the command and the admin call). Prints how many
lookups *sent after* the revocation returned were still admitted, when the
last of them was answered and when the first refusal came, over ``RUNS``
runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gh_bench \\
    REDIS_URL=redis://127.0.0.1:6379/4 .venv/bin/python bench/key_revocation.py
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.gunicorn import GunicornServer, server_env  # noqa: E402
from tests.support.revocation import revocation_gap  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "5"))
HUGE = "100000000/m"


def main() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL=postgres://... and REDIS_URL=redis://...")
    env = server_env(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        cache_prefix=f"gh-bench-{uuid.uuid4().hex[:8]}",
    )
    env["GATEHOUSE_TEST_SETTINGS"] = json.dumps(
        {
            "SIGNUP_LOOKUPS_PER_SESSION": 10**6,
            "SIGNUP_LOOKUP_IDENTIFIER_RATE": HUGE,
            "SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE": HUGE,
            "SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE": HUGE,
        }
    )
    env["GATEHOUSE_TEST_RATE_LIMITS"] = json.dumps(
        {"lookup": {"ip": [HUGE], "key": [HUGE], "session": [HUGE]}, "session": {"ip": [HUGE]}}
    )
    full = {**os.environ, **env}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=full, check=True)
    print("run  lookups  admitted after revoke  last admitted  first refusal")
    with GunicornServer(env=env, workers=4) as server:
        for run in range(1, RUNS + 1):
            gap = revocation_gap(server.port, full)
            last = (
                f"{gap.last_admitted_ms:7.0f} ms" if gap.last_admitted_ms is not None else "      -"
            )
            first = f"{gap.first_refusal_ms:7.0f} ms" if gap.first_refusal_ms is not None else "-"
            print(f"{run:3}  {gap.total:7}  {gap.admitted_after:21}  {last:>13}  {first:>13}")


if __name__ == "__main__":
    main()
