"""Proof of work in the ALTCHA v2 format (the ``altcha`` package).

A challenge is HMAC-signed with a key derived from GATEHOUSE SIGNING_KEY,
expires after CHALLENGE_LIFETIME seconds and names the API key it was issued
to (``data.kid``). The server picks a secret counter and publishes half of the
key it derives from it; the client searches counters until it finds that key.
Because the challenge also carries ``keySignature`` (an HMAC of the full
derived key under a second derived secret), verifying a solution costs two
HMACs: no key derivation, no database.

Difficulty is the upper bound of the secret counter (``maxNumber``): the
default for a clean client, doubled for every few recent denials of the
client IP or the key, never above POW_MAX_NUMBER_CAP. The challenge ladder
asks for a level (``pow_max_number``): 0 that difficulty, 1
POW_HARDER_FACTOR times it, 2 the cap. The level and the risk tier the
challenge was issued at are signed into it (``data.lvl``, ``data.tier``):
a solution proves the level it was solved at, and session start reads the
tier back (``pow_payload_claims``, unverified: it may only raise what is asked).
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

import altcha

from protection.base.clientip import ip_in_networks
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.metrics import metrics_difficulty_issued, metrics_timer
from protection.core.reputation import key_difficulty_boost, recent_denials

MAX_PAYLOAD_CHARS = 4096  # a real v2 payload is ~700 characters


def _refuse(reason: str, detail: str | None = None) -> ProtectionError:
    """A ``challenge_failed`` error carrying an audit-log reason (not sent to clients)."""
    error = ProtectionError("challenge_failed", detail)
    error.reason = reason  # type: ignore[attr-defined]
    return error


@dataclass(frozen=True)
class PowSolution:
    """A verified solution: what to remember so it cannot be used twice, and the
    level its challenge was issued at (signed)."""

    nonce: str
    expires_at: datetime.datetime
    level: int = 0


def _secret(label: str) -> bytes:
    return hmac.new(
        gatehouse_settings.SIGNING_KEY.encode(),
        f"gatehouse:altcha:{label}".encode(),
        hashlib.sha256,
    ).digest()


def pow_difficulty(
    *,
    client_ip: str | None,
    api_key: Any,
    ip_denials: int | None = None,
    key_denials: int | None = None,
    key_boost: int | None = None,
) -> int:
    """Return the counter upper bound (maxNumber) for this client.

    ``POW_MAX_NUMBER * 2 ** steps`` capped at ``POW_MAX_NUMBER_CAP``, where
    ``steps`` is the client's own (IP denials // POW_DENIALS_PER_DOUBLING_IP
    over DENIALS_WINDOW) plus the key-wide pressure (key denials //
    POW_DENIALS_PER_DOUBLING_KEY, plus the key's boost from the
    automatic-blocking rules), the latter at most
    ``POW_KEY_PRESSURE_MAX_DOUBLINGS``: a flood against a key makes a clean
    client's puzzle at most that many times twice as hard, while the
    flooding addresses pay for their own denials. IP
    denials do not count for clients in POW_ESCALATION_EXEMPT_NETWORKS
    (loopback under DEBUG). ``ip_denials``, ``key_denials``, ``key_boost``:
    those counts when the caller already read them (the gate's round trip),
    else they are read here.
    """
    base = int(gatehouse_settings.POW_MAX_NUMBER)
    cap = max(base, int(gatehouse_settings.POW_MAX_NUMBER_CAP))
    steps = 0
    # An exempt network (loopback under DEBUG) keeps the base difficulty for
    # its own denials; the key-wide steps below still apply to it.
    if client_ip and not ip_in_networks(
        client_ip, gatehouse_settings.POW_ESCALATION_EXEMPT_NETWORKS
    ):
        if ip_denials is None:
            ip_denials = recent_denials(client_ip=client_ip)
        steps = ip_denials // max(1, int(gatehouse_settings.POW_DENIALS_PER_DOUBLING_IP))
    if api_key is not None:
        if key_denials is None:
            key_denials = recent_denials(api_key=api_key)
        pressure = key_denials // max(1, int(gatehouse_settings.POW_DENIALS_PER_DOUBLING_KEY))
        pressure += key_difficulty_boost(api_key) if key_boost is None else key_boost
        steps += min(pressure, int(gatehouse_settings.POW_KEY_PRESSURE_MAX_DOUBLINGS))
    steps = min(steps, 32)  # 2**32 already exceeds any sane cap
    return min(cap, base * 2**steps)


def pow_max_number(*, level: int, difficulty: int) -> int:
    """The challenge's maxNumber at ``level`` from the client's ``difficulty``: 0 as
    is, 1 ``POW_HARDER_FACTOR`` times it, 2 ``POW_MAX_NUMBER_CAP`` (never above
    the cap, never below ``difficulty``)."""
    cap = max(int(difficulty), int(gatehouse_settings.POW_MAX_NUMBER_CAP))
    if level >= 2:
        return cap
    if level == 1:
        factor = max(1, int(gatehouse_settings.POW_HARDER_FACTOR))
        return max(int(difficulty), min(int(difficulty) * factor, cap))
    return int(difficulty)


def pow_challenge_create(
    *,
    api_key_public_id: str,
    max_number: int,
    now: datetime.datetime,
    level: int = 0,
    tier: str = "",
) -> dict[str, Any]:
    """Return a signed ALTCHA v2 challenge object (``{"parameters", "signature"}``);
    ``level`` and ``tier`` (the ladder's) are signed into its data when given."""
    max_number = max(2, int(max_number))
    low = max_number // 2
    counter = low + secrets.randbelow(max_number - low + 1)
    expires_at = int(now.timestamp()) + int(gatehouse_settings.CHALLENGE_LIFETIME)
    challenge = altcha.create_challenge(
        gatehouse_settings.POW_ALGORITHM,
        int(gatehouse_settings.POW_COST),
        counter=counter,
        expires_at=expires_at,
        data={
            "kid": api_key_public_id,
            "maxNumber": max_number,
            **({"lvl": int(level)} if level else {}),
            **({"tier": tier} if tier else {}),
        },
        hmac_secret=_secret("challenge"),
        hmac_key_secret=_secret("derived-key"),
    )
    metrics_difficulty_issued(max_number=max_number)
    return challenge.to_dict()


def pow_solution_verify(
    *, payload: str, api_key_public_id: str, now: datetime.datetime
) -> PowSolution:
    """Check a base64 ALTCHA payload; raise ``challenge_failed`` or return the solution.

    Pure computation: no database, no cache (replay is checked by the caller,
    only for solutions that pass here). Timed as the ``challenge`` verification.
    """
    with metrics_timer("challenge"):
        return _solution_check(payload=payload, api_key_public_id=api_key_public_id, now=now)


def _solution_check(*, payload: str, api_key_public_id: str, now: datetime.datetime) -> PowSolution:
    if not isinstance(payload, str) or not payload:
        raise _refuse("pow_missing", "Solve the challenge and send it as altcha.")
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise _refuse("pow_malformed")
    try:
        decoded = json.loads(base64.b64decode(payload, validate=True))
        parsed = altcha.Payload.from_dict(decoded)
        parameters = parsed.challenge.parameters
        expires_at = parameters.expires_at
        nonce = parameters.nonce
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error, RecursionError):
        raise _refuse("pow_malformed", "The challenge payload is malformed.") from None
    # Only challenges we issue: always expiring, always with the fast-path key
    # signature (so verification never re-derives a key chosen by the client).
    if (
        type(expires_at) is not int
        or not isinstance(parameters.key_signature, str)
        or not isinstance(nonce, str)
    ):
        raise _refuse("pow_not_ours")
    if expires_at <= now.timestamp():
        raise _refuse("pow_expired", "The challenge has expired; request a new one.")
    try:
        result = altcha.verify_solution(
            parsed, _secret("challenge"), hmac_key_secret=_secret("derived-key")
        )
    except (ValueError, TypeError, AttributeError, RecursionError):
        raise _refuse("pow_malformed") from None
    if result.expired:
        raise _refuse("pow_expired", "The challenge has expired; request a new one.")
    if result.invalid_signature:
        raise _refuse("pow_bad_signature")
    if not result.verified:
        raise _refuse("pow_wrong_solution")
    data = parameters.data if isinstance(parameters.data, dict) else {}
    # Signed, so only we could have put another key's id there: a solution
    # obtained under one API key is worthless under another.
    if not hmac.compare_digest(str(data.get("kid", "")), api_key_public_id):
        raise _refuse("pow_other_key", "This challenge was issued to another API key.")
    level = data.get("lvl", 0)
    return PowSolution(
        nonce=nonce,
        expires_at=datetime.datetime.fromtimestamp(expires_at, tz=datetime.UTC),
        level=level if type(level) is int else 0,
    )


# A solve time longer than this is not a solve time (the challenge expired long before).
MAX_SOLVE_MILLISECONDS = 24 * 3600 * 1000


def pow_solve_time(payload: str) -> int | None:
    """The milliseconds the client says it took to solve, from an ALTCHA payload; or None.

    ALTCHA v2 puts it in ``solution.time`` (v1 called it ``took``). It is the
    client's own word, never checked: a signal for tuning (a farm solving in
    0 ms, a phone in 3 s), not evidence. Anything that is not a number in
    [0, 24 h] is None, and so is a payload that is not one.
    """
    if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD_CHARS:
        return None
    try:
        decoded = json.loads(base64.b64decode(payload, validate=True))
    except (ValueError, binascii.Error, RecursionError):
        return None
    if not isinstance(decoded, dict):
        return None
    solution = decoded.get("solution")
    took = solution.get("time") if isinstance(solution, dict) else decoded.get("took")
    if isinstance(took, bool) or not isinstance(took, int | float):
        return None
    if not 0 <= took <= MAX_SOLVE_MILLISECONDS:  # also refuses NaN
        return None
    return int(took)


def pow_payload_claims(payload: str) -> dict[str, Any]:
    """The level and tier an ALTCHA payload's challenge says it was issued at:
    ``{"level": int, "tier": str}`` (0 and "" when absent or unreadable).

    Not verified (the signature is checked only when proof of work is
    required): a caller may use it to ask *more* of a client, never less.
    """
    claims: dict[str, Any] = {"level": 0, "tier": ""}
    if not isinstance(payload, str) or not payload or len(payload) > MAX_PAYLOAD_CHARS:
        return claims
    try:
        decoded = json.loads(base64.b64decode(payload, validate=True))
        data = decoded["challenge"]["parameters"]["data"]
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        return claims
    if not isinstance(data, dict):
        return claims
    level, tier = data.get("lvl", 0), data.get("tier", "")
    if type(level) is int and 0 <= level <= 2:
        claims["level"] = level
    if isinstance(tier, str) and tier.isascii() and len(tier) <= 16:
        claims["tier"] = tier
    return claims
