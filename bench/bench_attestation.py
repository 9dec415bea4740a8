"""Benchmark app attestation: server cost per request of each verifier (keys cached)
next to the cost of the session access-token check every request already pays.

Prints a table of µs per verification (best and median of BENCH_ROUNDS
rounds of BENCH_LOOPS calls). Offline: the Approov secret, the EC and RSA keys are
generated here and the App Check JWKS is served by an injected fetch, so
the timing is the verification itself (signature, claims, cache lookups).

    /work/main/.venv/bin/python bench/bench_attestation.py
"""

import base64
import datetime
import hashlib
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

import jwt  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from django.conf import settings  # noqa: E402
from django.test import override_settings  # noqa: E402
from jwt.algorithms import RSAAlgorithm  # noqa: E402

from protection.attestation import attestation_verify  # noqa: E402
from protection.attestation.app_check import app_check_verifier  # noqa: E402
from protection.attestation.approov import approov_verifier  # noqa: E402
from protection.attestation.jwks import jwks_cache  # noqa: E402
from protection.keys import ApiKey  # noqa: E402
from protection.sessions.tokens import SessionAccessToken, token_create, token_decode  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
LOOPS = int(os.environ.get("BENCH_LOOPS", "2000"))
NOW = datetime.datetime.now(datetime.UTC)
PROJECT = "123456789012"
APP_ID = f"1:{PROJECT}:android:0a1b2c3d"
RAW_KEY = "gh_pub_bench"


def micros(function) -> tuple[float, float]:
    """(best, median) µs per call over ROUNDS rounds of LOOPS calls; the best
    round is the least disturbed by other processes on a shared machine."""
    function()  # warm caches
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for _ in range(LOOPS):
            function()
        rounds.append((time.perf_counter() - started) / LOOPS * 1e6)
    return min(rounds), statistics.median(rounds)


@contextmanager
def attestation_checks() -> Iterator[list[tuple[str, Callable[[], object]]]]:
    """(label, call) per check, the session token check first, each call
    repeatable (tokens valid, keys cached after the first call), under settings
    for generated Approov keys and an injected App Check JWKS."""
    secret = os.urandom(32)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(rsa_key.public_key(), as_dict=True), "kid": "k1", "alg": "RS256"}
    jwks = json.dumps({"keys": [jwk]}).encode()
    jwks_cache.fetch = lambda url, timeout, body, headers: (200, jwks, {})
    pay = base64.b64encode(hashlib.sha256(RAW_KEY.encode()).digest()).decode()
    exp = int(NOW.timestamp()) + 300
    approov_hs = jwt.encode({"exp": exp, "did": "dev", "pay": pay}, secret, algorithm="HS256")
    approov_es = jwt.encode({"exp": exp, "did": "dev", "pay": pay}, ec_key, algorithm="ES256")
    app_check = jwt.encode(
        {
            "iss": f"https://firebaseappcheck.googleapis.com/{PROJECT}",
            "aud": [f"projects/{PROJECT}"],
            "sub": APP_ID,
            "exp": exp,
        },
        rsa_key,
        algorithm="RS256",
        headers={"typ": "JWT", "kid": "k1"},
    )
    gatehouse = {
        **settings.GATEHOUSE,
        "APPROOV_SECRET": base64.urlsafe_b64encode(secret).decode(),
        "APPROOV_PUBLIC_KEY": ec_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
        "APPROOV_PUBLIC_KEY_ALGORITHM": "ES256",
        "APPCHECK_PROJECT_NUMBER": PROJECT,
        "APPCHECK_APP_IDS": [APP_ID],
        # A URL of its own each run: with REDIS_URL the JWKS is shared in
        # Redis, and the last run's (another RSA key, same kid) would be found.
        "APPCHECK_JWKS_URL": f"https://jwks.invalid/{os.urandom(8).hex()}/jwks",
    }
    key = ApiKey(public_id="bench", required_verifications=["approov", "app_check"])
    with override_settings(GATEHOUSE=gatehouse):
        access = str(
            token_create(
                SessionAccessToken,
                session_id="00000000-0000-0000-0000-000000000001",
                api_key_public_id="bench",
                lifetime=datetime.timedelta(minutes=5),
                now=NOW,
            )
        )

        def approov(token: str):
            evidence = {"approov-token": token, "x-api-key": RAW_KEY}
            return lambda: approov_verifier.verify(
                api_key=key, evidence=evidence, purpose="session", bound_value=None, now=NOW
            )

        both = {"approov-token": approov_hs, "x-firebase-appcheck": app_check, "x-api-key": RAW_KEY}
        rows = [
            (
                "session access token (simplejwt HS256)",
                lambda: token_decode(SessionAccessToken, access),
            ),
            ("Approov HS256", approov(approov_hs)),
            ("Approov ES256 (public key)", approov(approov_es)),
            (
                "App Check RS256 (JWKS cached)",
                lambda: app_check_verifier.verify(
                    api_key=key,
                    evidence={"x-firebase-appcheck": app_check},
                    purpose="session",
                    bound_value=None,
                    now=NOW,
                ),
            ),
            (
                "attestation_verify: Approov + App Check",
                lambda: attestation_verify(api_key=key, evidence=both, purpose="session", now=NOW),
            ),
        ]
        yield rows


def main() -> None:
    with attestation_checks() as rows:
        results = [(label, micros(function)) for label, function in rows]
    baseline = results[0][1][0]
    print(f"{'check (per request)':<42} {'best µs':>8} {'median':>8} {'x token':>8}")
    for label, (best, median) in results:
        print(f"{label:<42} {best:>8.1f} {median:>8.1f} {best / baseline:>8.1f}")
    print(f"({ROUNDS} rounds x {LOOPS} calls; Python {sys.version.split()[0]}; x token: best/best)")


if __name__ == "__main__":
    main()
