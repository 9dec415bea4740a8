"""How long a revoked API key keeps working: lookups from several threads across
every worker while an operator's process revokes the key (shared by
``tests/system/test_key_revocation.py`` and ``bench/key_revocation.py``).

The key and its session are made through the servers' own commands and API;
the revocation runs in a separate process with the servers' environment
(same database, same Redis prefix), which prints the time it returned: every
lookup *sent* after that time must be refused.
"""

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from tests.support.gunicorn import request
from tests.support.paths import ROOT

LOOKUP = "/api/v1/persons/lookup"


@dataclass(frozen=True)
class Sample:
    sent: float  # time.time() when the request was sent
    answered: float
    status: int


@dataclass(frozen=True)
class RevocationGap:
    revoked_at: float  # when the revoking process returned (the commit is before it)
    admitted_after: int  # lookups sent after it and still answered 200
    last_admitted_ms: float | None  # the last such answer, after the revocation
    first_refusal_ms: float | None  # the first api_key_revoked answer, after the revocation
    refused: int
    total: int


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().splitlines()[-1]


def key_and_session(port: int, env: dict[str, str]) -> tuple[str, str]:
    """A new key requiring no evidence (made by the servers' command) and a session."""
    raw = manage(env, "create_api_key", "--name", "revocation gap", "--require", "none")
    status, body = request(port, "POST", "/api/v1/sessions", {}, {"X-Api-Key": raw})
    assert status == 201, body
    return raw, json.loads(body)["access"]


def revocation_gap(
    port: int, env: dict[str, str], *, threads: int = 8, before: float = 1.0, after: float = 1.5
) -> RevocationGap:
    """Lookups from ``threads`` clients; the key is revoked ``before`` s in; ``after`` s more."""
    raw, access = key_and_session(port, env)
    public_id = raw.split("_")[2]
    headers = {"X-Api-Key": raw, "Authorization": f"Bearer {access}"}
    samples: list[Sample] = []
    stop = threading.Event()

    def client(index: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            sent = time.time()
            status, _ = request(
                port, "POST", LOOKUP, {"email": f"c{index}.{n}@example.com"}, headers
            )
            samples.append(Sample(sent, time.time(), status))

    workers = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    time.sleep(before)
    code = (
        "import time; from protection.keys import api_key_find, api_key_revoke; "
        f"api_key_revoke(api_key=api_key_find(ref={public_id!r}), reason='revocation gap'); "
        "print(time.time())"
    )
    revoked_at = float(manage(env, "shell", "-c", code))
    time.sleep(after)
    stop.set()
    for worker in workers:
        worker.join()
    late = [s for s in samples if s.sent > revoked_at and s.status == 200]
    refusals = [s for s in samples if s.status == 401]
    return RevocationGap(
        revoked_at=revoked_at,
        admitted_after=len(late),
        last_admitted_ms=(max(s.answered for s in late) - revoked_at) * 1000 if late else None,
        first_refusal_ms=(
            (min(s.answered for s in refusals) - revoked_at) * 1000 if refusals else None
        ),
        refused=len(refusals),
        total=len(samples),
    )
