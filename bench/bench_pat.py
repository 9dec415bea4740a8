"""What a Private Access Token costs the server (issue 20), step by step.

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_pat.py

Rows (BENCH_RUNS calls each, timed one by one; median and p90):

- issue: one TokenChallenge per issuer and its digest remembered in the
  shared cache (``cache.set_many``: one round trip) — what a 401 costs;
- verify: parse, key id lookup and the RSASSA-PSS SHA-384 signature check,
  offline — what any token costs, forged ones included;
- redeem: the challenge consumed in the shared cache (``cache.delete``) and
  recorded in the spent-evidence table (an INSERT, a commit).

Tokens are signed beforehand by a test issuer key (tests/support/pat.py) and
not timed. Without DATABASE_URL / REDIS_URL it runs on SQLite and the
local-memory cache, which flatters issue and redeem: quote figures from
PostgreSQL and Redis.
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
os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")
if not os.environ.get("DATABASE_URL"):
    os.environ["GATEHOUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="gh-bench-")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from django.utils import timezone  # noqa: E402

from protection.challenges.pat import (  # noqa: E402
    pat_challenges_issue,
    pat_token_redeem,
    pat_token_verify,
)
from protection.challenges.replay import SpentChallenge, challenge_spend  # noqa: E402
from tests.support.pat import PatIssuerKey, pat_challenges_parse  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "2000"))


def timed(function, arguments) -> list[float]:
    samples = []
    for argument in arguments:
        started = time.perf_counter()
        function(argument)
        samples.append(time.perf_counter() - started)
    return samples


def row(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    median = statistics.median(ordered) * 1e6
    p90 = ordered[int(len(ordered) * 0.9)] * 1e6
    return f"{name:<8} {median:>10.1f} µs {p90:>10.1f} µs"


def main() -> None:
    call_command("migrate", verbosity=0)
    issuer = PatIssuerKey(name="issuer.example")
    gatehouse = {
        **settings.GATEHOUSE,
        "PAT_ISSUERS": [issuer.entry],
        "PUBLIC_BASE_URL": "https://signup-api.example",
    }
    with override_settings(GATEHOUSE=gatehouse):
        headers = [pat_challenges_issue() for _ in range(RUNS)]  # warm, and challenges to answer
        issue = timed(lambda _: pat_challenges_issue(), range(RUNS))
        tokens = [issuer.token(pat_challenges_parse(header)[0][0]) for header in headers]
        verify = timed(pat_token_verify, tokens)
        verified = [pat_token_verify(token) for token in tokens]
        now = timezone.now()

        def redeem(token):
            assert pat_token_redeem(token)
            challenge_spend(
                kind=SpentChallenge.Kind.PAT,
                value=token.challenge_digest.hex(),
                expires_at=now,
                now=now,
            )

        spend = timed(redeem, verified)
    database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(f"Private Access Tokens, {RUNS} calls each ({database}, {cache})")
    print(f"{'step':<8} {'median':>13} {'p90':>13}")
    for name, samples in (("issue", issue), ("verify", verify), ("redeem", spend)):
        print(row(name, samples))


if __name__ == "__main__":
    main()
