"""Challenges: the evidence a client shows before it gets a session.

- ``challenge_issue``: a signed ALTCHA proof-of-work challenge (difficulty
  adapted to the client's recent denials, raised to the level the challenge
  ladder asks), the list of verifications the client must show and the site
  key of the CAPTCHA among them.
- ``challenge_verify`` (``protection.challenges.verify``): check that
  evidence (proof of work, reCAPTCHA, Turnstile, hCaptcha, Private Access
  Tokens), each accepted once, recording an event for every refusal; it
  returns what was shown (``ChallengeOutcome``).
- ``evidence_required``: the key's floor plus what a caller adds;
  ``api_key_captcha``: which CAPTCHA a key uses.

Issuing a challenge writes no row: a per-key, per-hour counter in the shared
cache counts them, and the first challenge of each key in each hour writes
one ``challenge_issued`` event carrying the previous hour's count.
"""

import datetime
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.utils import timezone

from protection.challenges.captcha import api_key_captcha, captcha_site_key
from protection.challenges.evidence import (
    ChallengeEvidence,
    ChallengeOutcome,
    evidence_required,
)
from protection.challenges.pat import pat_authorization_token, pat_challenges_issue
from protection.challenges.pow import (
    pow_challenge_create,
    pow_difficulty,
    pow_max_number,
    pow_payload_claims,
)
from protection.challenges.replay import SpentChallenge, challenges_purge_expired
from protection.challenges.verify import challenge_verify
from protection.core.cachehealth import shared_cache_call
from protection.core.events import event_record

__all__ = [
    "ChallengeEvidence",
    "ChallengeOutcome",
    "SpentChallenge",
    "api_key_captcha",
    "captcha_site_key",
    "challenge_issue",
    "challenge_verify",
    "challenges_issued_count",
    "challenges_purge_expired",
    "evidence_required",
    "pat_authorization_token",
    "pat_challenges_issue",
    "pow_difficulty",
    "pow_payload_claims",
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
    *,
    api_key: Any,
    client_ip: str | None,
    required: Iterable[str] = (),
    pow_level: int = 0,
    tier: str = "",
    difficulty: int | None = None,
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """Return the challenge response body for ``api_key``:
    ``{"altcha": {...}, "requires": [...], "recaptcha_site_key": ...,
    "turnstile_site_key": ..., "hcaptcha_site_key": ..., "turnstile_action": ...}``.

    ``requires`` is the key's required verifications plus ``required``
    (``evidence_required``); a CAPTCHA's site key is set only when that
    CAPTCHA is among them (and configured), else null.

    The proof of work is at the client's ``difficulty`` (``pow_difficulty``,
    computed here unless given) raised to ``pow_level`` (``pow_max_number``:
    1 harder, 2 the cap); the level and the risk ``tier`` are signed into it.
    """
    now = now or timezone.now()
    requires = list(evidence_required(api_key=api_key, add=required))
    if difficulty is None:
        difficulty = pow_difficulty(client_ip=client_ip, api_key=api_key)
    challenge = pow_challenge_create(
        api_key_public_id=api_key.public_id,
        max_number=pow_max_number(level=pow_level, difficulty=difficulty),
        now=now,
        level=pow_level,
        tier=tier,
    )
    _issuance_count(api_key=api_key, client_ip=client_ip, now=now)
    return {
        "altcha": challenge,
        "requires": requires,
        **{
            f"{provider}_site_key": captcha_site_key(provider) if provider in requires else None
            for provider in ("recaptcha", "turnstile", "hcaptcha")
        },
        # The action the Turnstile widget must be rendered with (checked on its token).
        "turnstile_action": api_key.captcha_action if "turnstile" in requires else None,
    }
