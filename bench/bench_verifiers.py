"""Every verifier's cost per request in one table, next to the JWT check (issue 13).

    DATABASE_URL=postgres://… REDIS_URL=redis://… python bench/bench_verifiers.py

One process, keys cached (Approov's from settings, App Check's JWKS after
one injected fetch, an App Attest key after one SELECT), client-side signing
done beforehand and not timed. Each row is BENCH_RUNS calls (2,000), timed
one by one; the table gives the median, the p90 and median / the JWT check's
median. The rows come from ``bench/bench_dpop.py`` (JWT, DPoP, App Attest)
and ``bench/bench_attestation.py`` (Approov, App Check), which print the
longer breakdowns:

- session access token: simplejwt HS256, what every request already pays;
- DPoP proof: ES256 signature, claims, ath, and its jti spent in the shared
  cache (one ``cache.add``: a Redis round trip with REDIS_URL);
- Approov: HS256 (shared secret) and ES256 (public key);
- App Check: RS256 against the cached JWKS, issuer, audience, app id;
- App Attest assertion: ECDSA P-256 and the counter's conditional UPDATE
  (a commit: most of it on PostgreSQL).

Without DATABASE_URL / REDIS_URL it runs on SQLite and the local-memory cache,
which flatters the DPoP jti store and the App Attest counter: quote figures
from PostgreSQL and Redis.
"""

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if not os.environ.get("DATABASE_URL"):  # what bench_dpop does, before either sets Django up
    os.environ["GATEHOUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="gh-bench-")

from bench.bench_attestation import attestation_checks  # noqa: E402
from bench.bench_dpop import (  # noqa: E402
    RUNS,
    assertion_samples,
    attestation_samples,
    bench_setup,
    dpop_samples,
    ecdsa_samples,
    jwt_samples,
    store_samples,
    table,
    timings,
    where,
)

ATTESTATION_ROWS = {
    "Approov HS256": "Approov HS256 (shared secret)",
    "Approov ES256 (public key)": "Approov ES256 (public key)",
    "App Check RS256 (JWKS cached)": "App Check RS256 (JWKS cached)",
}


def verifier_rows(runs: int = RUNS) -> list[tuple[str, list[float]]]:
    """(label, µs per call) for the JWT check, then each verifier."""
    apple, key, access = bench_setup()
    rows = [
        ("session access token (simplejwt HS256)", jwt_samples(access, runs)),
        ("DPoP proof (ES256, claims, jti store)", dpop_samples(access, runs)),
        ("  of which signature and claims", dpop_samples(access, runs, spend_jti=False)),
        ("  of which jti store (one cache.add)", store_samples(runs)),
    ]
    with attestation_checks() as checks:
        for label, call in checks:
            if label in ATTESTATION_ROWS:
                call()  # warm: the JWKS fetched and parsed once
                rows.append((ATTESTATION_ROWS[label], timings(call for _ in range(runs))))
    _, devices = attestation_samples(apple, key, count=1)  # one attested device
    rows.append(
        ("App Attest assertion (+ counter UPDATE)", assertion_samples(devices[0], key, runs))
    )
    rows.append(("  of which ECDSA P-256 verify", ecdsa_samples(devices[0], runs)))
    return rows


def main() -> None:
    print(f"== verifier cost per request, keys cached: {where()}, {RUNS} calls per row ==")
    print(table(verifier_rows(), width=42))
    print(
        f"(one process; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs shared; "
        "x JWT: median / the session token check's median)"
    )


if __name__ == "__main__":
    main()
