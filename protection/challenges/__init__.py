"""Challenges: the evidence a client shows before it gets a session.

- ``challenge_issue``: a signed ALTCHA proof-of-work challenge (difficulty
  adapted to the client's recent denials) and the list of verifications the
  API key requires.
- ``challenge_verify``: check the evidence the key requires (proof of work,
  reCAPTCHA), each accepted once, recording an event for every refusal.

Issuing a challenge writes no row: a per-key, per-hour counter in the shared
cache counts them, and the first challenge of each key in each hour writes
one ``challenge_issued`` event carrying the previous hour's count.
"""

import datetime
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from protection.base.exceptions import ProtectionError
from protection.challenges.pow import pow_challenge_create, pow_difficulty, pow_solution_verify
from protection.challenges.recaptcha import (
    MAX_TOKEN_CHARS,
    recaptcha_site_key,
    recaptcha_verify,
)
from protection.challenges.replay import SpentChallenge, challenge_spend, challenges_purge_expired
from protection.conf import gatehouse_settings
from protection.core.cachehealth import shared_cache_call
from protection.core.events import event_record
from protection.keys.models import verifications_observed

__all__ = [
    "SpentChallenge",
    "challenge_issue",
    "challenge_verify",
    "challenges_issued_count",
    "challenges_purge_expired",
]

HOUR = 3600


def _issued_key(public_id: str, hour: int) -> str:
    return f"gh:challenges:issued:{public_id}:{hour}"


def challenges_issued_count(*, api_key: Any, now: datetime.datetime | None = None) -> int:
    """How many challenges ``api_key`` was issued in the current clock hour."""
    hour = int((now or timezone.now()).timestamp()) // HOUR
    key = _issued_key(api_key.public_id, hour)
    return int(shared_cache_call(lambda: cache.get(key, 0), 0))


def _issuance_count(*, api_key: Any, client_ip: str | None, now: datetime.datetime) -> None:
    hour = int(now.timestamp()) // HOUR
    key = _issued_key(api_key.public_id, hour)

    def count() -> tuple[bool, int]:
        first = cache.add(key, 0, timeout=2 * HOUR)
        cache.incr(key)
        return first, int(cache.get(_issued_key(api_key.public_id, hour - 1), 0))

    # Counting is best effort; issuing must not depend on it.
    first_of_hour, previous = shared_cache_call(count, (False, 0))
    if first_of_hour:
        event_record(
            kind="challenge_issued",
            decision="allow",
            reason="hourly_sample",
            client_ip=client_ip,
            api_key=api_key,
            details={"previous_hour_count": previous},
        )


def challenge_issue(
    *, api_key: Any, client_ip: str | None, now: datetime.datetime | None = None
) -> dict[str, Any]:
    """Return the challenge response body for ``api_key``:
    ``{"altcha": {...}, "requires": [...], "recaptcha_site_key": str | None}``."""
    now = now or timezone.now()
    required = [v for v in api_key.required_verifications if v]
    challenge = pow_challenge_create(
        api_key_public_id=api_key.public_id,
        max_number=pow_difficulty(client_ip=client_ip, api_key=api_key),
        now=now,
    )
    _issuance_count(api_key=api_key, client_ip=client_ip, now=now)
    return {
        "altcha": challenge,
        "requires": required,
        "recaptcha_site_key": recaptcha_site_key() if "recaptcha" in required else None,
    }


def _deny(
    error: ProtectionError,
    *,
    kind: str,
    reason: str,
    api_key: Any,
    client_ip: str | None,
    details: dict[str, Any] | None = None,
) -> ProtectionError:
    observed = verifications_observed(api_key)
    event_record(
        kind=kind,
        decision="alert" if observed else "deny",
        reason=reason,
        client_ip=client_ip,
        api_key=api_key,
        details={**(details or {}), "dry_run": True} if observed else details,
    )
    return error


# What observe mode lets through: the client's failures, not our outages.
OBSERVABLE_CODES = frozenset({"challenge_failed", "challenge_replayed", "recaptcha_failed"})


def challenge_verify(
    *,
    api_key: Any,
    client_ip: str | None,
    altcha_payload: str = "",
    recaptcha_token: str = "",
    now: datetime.datetime | None = None,
) -> None:
    """Check the evidence ``api_key`` requires; raise ProtectionError if any is lacking.

    Proof of work is verified offline first (garbage costs no database work);
    only a valid solution is then recorded as spent. A reCAPTCHA token is
    recorded as spent before Google is asked, so a replay never reaches Google.
    A key in observe mode (``verifications_observed``) has its failures
    recorded as dry-run alerts and is let through.
    """
    try:
        _challenge_verify(
            api_key=api_key,
            client_ip=client_ip,
            altcha_payload=altcha_payload,
            recaptcha_token=recaptcha_token,
            now=now,
        )
    except ProtectionError as error:
        if error.code not in OBSERVABLE_CODES or not verifications_observed(api_key):
            raise


def _challenge_verify(
    *,
    api_key: Any,
    client_ip: str | None,
    altcha_payload: str = "",
    recaptcha_token: str = "",
    now: datetime.datetime | None = None,
) -> None:
    """The checks of ``challenge_verify``, raising on the first failure."""
    now = now or timezone.now()
    required = set(api_key.required_verifications)
    context = {"api_key": api_key, "client_ip": client_ip}
    if "pow" in required:
        try:
            solution = pow_solution_verify(
                payload=altcha_payload, api_key_public_id=api_key.public_id, now=now
            )
            challenge_spend(
                kind=SpentChallenge.Kind.POW,
                value=solution.nonce,
                expires_at=solution.expires_at,
                now=now,
            )
        except ProtectionError as error:
            replayed = error.code == "challenge_replayed"
            kind = "challenge_replayed" if replayed else "challenge_failed"
            reason = getattr(error, "reason", "pow_replayed")
            raise _deny(error, kind=kind, reason=reason, **context) from None
    if "recaptcha" in required:
        if not isinstance(recaptcha_token, str) or not recaptcha_token:
            raise _deny(
                ProtectionError("recaptcha_failed", "Send the reCAPTCHA token as recaptcha_token."),
                kind="recaptcha_failed",
                reason="recaptcha_missing",
                **context,
            )
        if len(recaptcha_token) > MAX_TOKEN_CHARS:
            raise _deny(
                ProtectionError("recaptcha_failed"),
                kind="recaptcha_failed",
                reason="recaptcha_malformed",
                **context,
            )
        lifetime = datetime.timedelta(seconds=int(gatehouse_settings.RECAPTCHA_TOKEN_LIFETIME))
        try:
            challenge_spend(
                kind=SpentChallenge.Kind.RECAPTCHA,
                value=recaptcha_token,
                expires_at=now + lifetime,
                now=now,
            )
        except ProtectionError as error:
            raise _deny(
                error, kind="challenge_replayed", reason="recaptcha_replayed", **context
            ) from None
        try:
            outcome = recaptcha_verify(token=recaptcha_token, api_key=api_key, client_ip=client_ip)
        except ProtectionError:
            # "alert", not "deny": Google's outage is not the client's fault
            # and must not raise its proof-of-work difficulty.
            event_record(
                kind="recaptcha_unavailable", decision="alert", reason="fail_closed", **context
            )
            raise
        if outcome.reason == "recaptcha_unavailable_fail_open":
            event_record(
                kind="recaptcha_unavailable", decision="alert", reason="fail_open", **context
            )
        elif not outcome.accepted:
            raise _deny(
                ProtectionError("recaptcha_failed"),
                kind="recaptcha_failed",
                reason=outcome.reason,
                details=outcome.details,
                **context,
            )
