"""Benchmark the sender-constraint and device verifiers against the JWT check.

Prints, per request, the median and p90 server time (µs) of:
- the simplejwt access-token check (``token_decode``), the reference;
- a DPoP proof check (ES256 signature, claims, jti spent in the shared cache);
- an App Attest assertion (ECDSA with the key each process keeps after one
  SELECT, and one conditional UPDATE of the counter: a commit, most of it);
- an App Attest attestation (once per session start: chain to the root,
  CBOR, one INSERT).
Client-side signing is done beforehand and not timed. Objects are built
under a test root CA made at run time, injected in place of Apple's.

Runs on the embedded SQLite and local-memory cache in a temporary directory
unless DATABASE_URL / REDIS_URL are set:  .venv/bin/python bench/bench_dpop.py
"""

import datetime
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("GATEHOUSE_LOG_LEVEL", "WARNING")  # no line per security event
if not os.environ.get("DATABASE_URL"):
    os.environ["GATEHOUSE_DATA_DIR"] = tempfile.mkdtemp(prefix="gh-bench-")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402

from protection import dpop  # noqa: E402
from protection.attestation.app_attest import (  # noqa: E402
    verify_assertion,
    verify_attestation,
)
from protection.dpop import dpop_proof_verify  # noqa: E402
from protection.keys import api_key_create  # noqa: E402
from protection.sessions.tokens import SessionAccessToken, token_create, token_decode  # noqa: E402
from tests.support.app_attest import APP_ID, FakeApple, FakeDevice, b64  # noqa: E402
from tests.support.dpop import BASE_URL, DpopClient  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "2000"))
ATTESTATIONS = int(os.environ.get("BENCH_ATTESTATIONS", "200"))
PATH = "/api/v1/persons/lookup"


def timings(calls: Iterator[Callable[[], object]]) -> list[float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1e6)
    return samples


def bench_setup() -> tuple[FakeApple, Any, str]:
    """Settings for the test root CA and the public base URL, the database
    migrated, a key, and a session access token (5 minutes) for it."""
    apple = FakeApple()
    settings.GATEHOUSE = {
        **settings.GATEHOUSE,
        "PUBLIC_BASE_URL": BASE_URL,
        "APP_ATTEST_APP_IDS": [APP_ID],
        "APP_ATTEST_ROOT_CA_PEM": apple.root_pem,
        "AUTO_BLOCK_RULES": [],
    }
    call_command("migrate", verbosity=0)
    key, _ = api_key_create(name=f"bench dpop {time.time()}")
    access = str(
        token_create(
            SessionAccessToken,
            session_id="5d0f2b1e-0000-4000-8000-000000000001",
            api_key_public_id=key.public_id,
            lifetime=datetime.timedelta(minutes=5),
            now=datetime.datetime.now(datetime.UTC),
        )
    )
    return apple, key, access


def where() -> str:
    """Which database and cache the checks ran against."""
    cache_backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return f"database: {django.db.connection.vendor}, cache: {cache_backend}"


def jwt_samples(access: str, runs: int = RUNS) -> list[float]:
    """The simplejwt access-token check every request already pays."""
    return timings(lambda: token_decode(SessionAccessToken, access) for _ in range(runs))


def dpop_samples(access: str, runs: int = RUNS, *, spend_jti: bool = True) -> list[float]:
    """One fresh proof checked per call (signed beforehand); without
    ``spend_jti``, the signature and claims only (no cache round trip)."""
    client = DpopClient()
    proofs = [client.proof(url=BASE_URL + PATH, access_token=access) for _ in range(runs)]
    calls = (
        (
            lambda proof=proof: dpop_proof_verify(
                proof=proof, method="POST", url=PATH, access_token=access
            )
        )
        for proof in proofs
    )
    if spend_jti:
        return timings(calls)
    jti_spend = dpop._jti_spend
    dpop._jti_spend = lambda **kwargs: None
    try:
        return timings(calls)
    finally:
        dpop._jti_spend = jti_spend


def store_samples(runs: int = RUNS) -> list[float]:
    """The jti store's round trip alone: one ``cache.add``."""
    return timings(
        (lambda n=n: cache.add(f"gh:bench:dpop:{time.time()}:{n}", 1, timeout=121))
        for n in range(runs)
    )


def attestation_samples(apple: FakeApple, key: Any, count: int = ATTESTATIONS):
    """(samples, devices): ``count`` App Attest attestations, once per session start."""
    devices = [FakeDevice(apple) for _ in range(count)]
    attestations = []
    for device in devices:
        client_data = device.client_data()
        attestations.append((device, device.attest(client_data), b64(client_data)))
    samples = timings(
        (
            lambda device=device, attestation=attestation, client_data=client_data: (
                verify_attestation(
                    key_id=device.key_id,
                    attestation=attestation,
                    client_data=client_data,
                    api_key=key,
                )
            )
        )
        for device, attestation, client_data in attestations
    )
    return samples, devices


def assertion_samples(device: FakeDevice, key: Any, runs: int = RUNS) -> list[float]:
    """App Attest assertions by one attested ``device`` (its key cached after one SELECT)."""
    client_data = device.client_data(method="POST", path=PATH)
    assertions = [device.assertion(client_data) for _ in range(runs)]
    return timings(
        (
            lambda assertion=assertion: verify_assertion(
                key_id=device.key_id,
                assertion=assertion,
                client_data=b64(client_data),
                api_key=key,
                method="POST",
                path=PATH,
            )
        )
        for assertion in assertions
    )


def ecdsa_samples(device: FakeDevice, runs: int = RUNS) -> list[float]:
    """The assertion's own CPU cost: the rest is the counter's UPDATE (a commit)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    message = b"x" * 32
    signature = device.key.sign(message, ec.ECDSA(hashes.SHA256()))
    public_key = device.key.public_key()
    return timings(
        (lambda: public_key.verify(signature, message, ec.ECDSA(hashes.SHA256())))
        for _ in range(runs)
    )


def table(rows: list[tuple[str, list[float]]], *, width: int = 40) -> str:
    """median, p90 and median / the first row's median, one line per row."""
    reference = statistics.median(rows[0][1])
    lines = [f"{'check per request':<{width}} {'median µs':>10} {'p90 µs':>10} {'x JWT':>7}"]
    for label, samples in rows:
        median = statistics.median(samples)
        p90 = sorted(samples)[int(len(samples) * 0.9) - 1]
        lines.append(f"{label:<{width}} {median:>10.0f} {p90:>10.0f} {median / reference:>7.1f}")
    return "\n".join(lines)


def main() -> None:
    apple, key, access = bench_setup()
    print(f"{where()}, runs: {RUNS}")
    jwt_times = jwt_samples(access)
    dpop_times = dpop_samples(access)
    # The same proof check's CPU alone, and the jti store's round trip alone.
    dpop_cpu_times = dpop_samples(access, spend_jti=False)
    store_times = store_samples()
    attest_times, devices = attestation_samples(apple, key)
    assertion_times = assertion_samples(devices[0], key)
    ecdsa_times = ecdsa_samples(devices[0])
    rows = [
        ("simplejwt access token (reference)", jwt_times),
        ("DPoP proof, ES256 + jti store", dpop_times),
        ("  of which signature and claims", dpop_cpu_times),
        ("  of which jti store (one cache.add)", store_times),
        ("App Attest assertion", assertion_times),
        ("  of which ECDSA P-256 verify", ecdsa_times),
        ("App Attest attestation (session start)", attest_times),
    ]
    print(table(rows))


if __name__ == "__main__":
    main()
