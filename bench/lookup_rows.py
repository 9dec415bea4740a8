"""What each row of the lookup bench sends, and the answer it must get.

Every row POSTs ``BODY``. Served rows must answer 200. Denial rows are
refusals of ``POST /api/v1/persons/lookup`` an attacker's flood would get,
each from its own client address, each with the status and problem code it
must be refused with (``DENIALS``):

- invalid-key:  a well-formed key no one was issued (right shape and
                checksum, unknown public id), with a valid session token;
- blocked-ip:   the bench key and a valid token, from a blocked address;
- over-budget:  the bench key and a valid token, from an address that has
                spent its per-IP lookup budget (``lookup_trees.OVER_BUDGET_RATE``,
                on a server of its own: the other rows' limits are huge);
- forged-token: the bench key and a session token whose header and claims
                are real but whose signature is made with another key.

Client addresses travel in ``X-Forwarded-For``: the bench servers trust one
proxy hop (gunicorn's peer, 127.0.0.1, is in the default
``TRUSTED_PROXY_NETWORKS``), as a deployment behind nginx does, so every row
(served ones too) names its own documentation address there.

Credentials are made fresh before every run of a row (``Plan.fresh``):
access tokens live five minutes, less than a round of many rows.
"""

import base64
import hashlib
import hmac
import json
import secrets
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.gunicorn import GunicornServer, request

PATH = "/api/v1/persons/lookup"
BODY = {"email": "nobody@example.com"}
PATHS = {
    "plain": "/api/test/plain-lookup",
    "floor": "/api/test/floor-lookup",
    "protected": PATH,
    "dpop": PATH,
    "stack": "/api/test/stack-lookup",
}
# Denial row -> the status and problem code every one of its requests must get.
DENIALS = {
    "invalid-key": (401, "api_key_invalid"),
    "blocked-ip": (403, "blocked"),
    "over-budget": (429, "rate_limited"),
    "forged-token": (401, "token_invalid"),
}
ADDRESSES = {
    "plain": "198.51.100.1",
    "floor": "198.51.100.2",
    "protected": "198.51.100.3",
    "dpop": "198.51.100.4",
    "stack": "198.51.100.5",
    "invalid-key": "203.0.113.10",
    "blocked-ip": "203.0.113.66",
    "over-budget": "203.0.113.99",
    "forged-token": "203.0.113.20",
}
BLOCKED_IP = ADDRESSES["blocked-ip"]


def from_address(name: str, headers: dict[str, str]) -> dict[str, str]:
    """``headers`` sent from row ``name``'s client address."""
    return {**headers, "X-Forwarded-For": ADDRESSES[name]}


def answer_problem(status: int, payload: bytes, *, expected: int, code: str) -> str | None:
    """None when the answer is ``expected`` (and, for a refusal, carries
    problem code ``code``); else what was answered instead."""
    if status == expected:
        if not code:
            return None
        try:
            answered = json.loads(payload).get("code")
        except (ValueError, AttributeError):
            answered = None
        if answered == code:
            return None
    return f"answered {status} {payload[:200]!r}, not {expected}" + (f" {code}" if code else "")


@dataclass
class DpopProofs:
    """The proofs wrk sends, one per request, for one DPoP-bound access token."""

    client: object  # tests.support.dpop.DpopClient
    file: Path
    url: str
    access: str = ""
    signed: int = 0
    signing_seconds: float = 0.0

    def sign(self, count: int) -> None:
        from bench.bench_dpop_lookup import sign_proofs  # it imports bench_lookup

        self.signing_seconds += sign_proofs(self.client, self.access, count, self.file)
        self.signed += count

    def one(self) -> str:
        return self.client.proof(url=self.url, access_token=self.access)


@dataclass
class Plan:
    """One row: the server it is sent to and the answer it must get.

    ``fresh`` makes its headers with new credentials (a new session, a new
    forged token, …); a DPoP row also needs ``dpop.sign`` before each run."""

    name: str
    server: GunicornServer
    database: str  # the PostgreSQL database its server uses (CPU accounting)
    fresh: Callable[[], dict[str, str]]
    status: int = 200
    code: str = ""
    path: str = PATH
    dpop: DpopProofs | None = None
    # Must refuse a request without its key and one without its token (401/403).
    guarded: bool = False
    # Run once before the first check, with fresh headers: None, or what went wrong.
    prime: Callable[[dict[str, str]], str | None] | None = None
    headers: dict[str, str] = field(default_factory=dict)  # the last fresh ones

    @property
    def refused(self) -> bool:
        return self.status != 200

    def renew(self) -> dict[str, str]:
        self.headers = self.fresh()
        return self.headers

    def header_files(self) -> dict[str, str] | None:
        return {"DPoP": str(self.dpop.file)} if self.dpop else None

    def check(self) -> str | None:
        """One request with the current headers: None if answered as it must be."""
        headers = {**self.headers, "DPoP": self.dpop.one()} if self.dpop else self.headers
        status, payload = request(self.server.port, "POST", self.path, BODY, headers)
        return answer_problem(status, payload, expected=self.status, code=self.code)


def session_headers(port: int, raw_key: str) -> dict[str, str]:
    """A fresh session the way clients get one (the key requires no evidence)."""
    headers = {"X-Api-Key": raw_key}
    status, payload = request(port, "POST", "/api/v1/sessions", {}, headers)
    if status != 201:
        sys.exit(f"POST /api/v1/sessions answered {status}: {payload!r}")
    return {**headers, "Authorization": f"Bearer {json.loads(payload)['access']}"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def token_forge(token: str) -> str:
    """``token`` (an HS256/384/512 JWT) with its header and claims kept and its
    signature made with a key the server does not hold."""
    header, claims, _signature = token.split(".")
    padded = header + "=" * (-len(header) % 4)
    algorithm = json.loads(base64.urlsafe_b64decode(padded))["alg"]
    digests = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    if algorithm not in digests:
        sys.exit(f"the session token is {algorithm}: the bench forges HMAC tokens only")
    signed = f"{header}.{claims}".encode("ascii")
    forged = hmac.new(secrets.token_bytes(32), signed, digests[algorithm]).digest()
    return f"{header}.{claims}.{_b64url(forged)}"


def key_unknown() -> str:
    """A secret key of the right shape and checksum that no tree has issued."""
    from protection.base.crypto import generate_public_id, generate_raw_key, parse_raw_key

    raw_key = generate_raw_key(kind="secret", public_id=generate_public_id())[0]
    assert parse_raw_key(raw_key) is not None  # well-formed: refused by lookup, not by shape
    return raw_key


def over_budget_drive(port: int, headers: dict[str, str], *, tries: int = 10) -> str | None:
    """Send lookups from the over-budget address until its per-IP limit refuses
    one; None once it has, else what the last answer was."""
    problem = "no request sent"
    for _ in range(tries):
        status, payload = request(port, "POST", PATH, BODY, headers)
        problem = answer_problem(status, payload, expected=429, code="rate_limited")
        if problem is None:
            return None
    return problem


def denial_plans(
    *,
    suffix: Callable[[str], str],
    server: GunicornServer,
    limited: GunicornServer | None,
    database: str,
    raw_key: str,
    wanted: Collection[str] = tuple(DENIALS),
) -> list[Plan]:
    """The ``wanted`` denial rows of one tree: ``server`` has huge limits,
    ``limited`` (needed for over-budget) the small per-IP lookup limit the
    over-budget address spends."""
    unknown = key_unknown()

    def session(on: GunicornServer, name: str) -> dict[str, str]:
        return from_address(name, session_headers(on.port, raw_key))

    def invalid_key() -> dict[str, str]:
        return {**session(server, "invalid-key"), "X-Api-Key": unknown}

    def forged_token() -> dict[str, str]:
        headers = session(server, "forged-token")
        forged = token_forge(headers["Authorization"].removeprefix("Bearer "))
        return {**headers, "Authorization": f"Bearer {forged}"}

    plans = [
        Plan(suffix("invalid-key"), server, database, invalid_key),
        Plan(suffix("blocked-ip"), server, database, lambda: session(server, "blocked-ip")),
        Plan(suffix("forged-token"), server, database, forged_token),
    ]
    if limited is not None:
        plans.append(
            Plan(
                suffix("over-budget"),
                limited,
                database,
                lambda: session(limited, "over-budget"),
                prime=lambda headers: over_budget_drive(limited.port, headers),
            )
        )
    by_name = {plan.name: plan for plan in plans}
    chosen = []
    for name, (status, code) in DENIALS.items():
        plan = by_name.get(suffix(name))
        if plan is not None and name in wanted:
            plan.status, plan.code = status, code
            chosen.append(plan)
    return chosen
