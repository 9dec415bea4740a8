"""Business limits of the sign-up API: what makes sweeping and mass sign-up impractical.

Lookups: per session (a quota for the session's life), per looked-up
identifier from anywhere, and distinct identifiers per client IP and per API
key (crossing those is ``enumeration_suspected``). Creates: per session and
per client IP. Windowed limits go through ``protection.core.ratelimit`` (atomic
counters in the shared cache); the per-session quotas are exact counters that
live as long as the session, since a fixed window could straddle a session
and grant it twice the quota. All counters of one lookup go in one call
with the request's own limits (``request_limits_count``): one Redis round
trip for the whole request.

The checks never depend on whether a person exists, so refusals reveal
nothing. Identifiers reach counters and events only as keyed digests.
"""

import datetime
import math

from django.utils import timezone

from protection.base.clientip import rate_limit_ident
from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.ratelimit import (
    Hit,
    Quota,
    RateLimitResult,
    RequestLimits,
    rate_limit_hit_many,
    rate_parse,
    request_limits_count,
)
from protection.keys import ApiKey
from protection.sessions import AnonymousSession, SessionClaims
from signup.conf import signup_settings

Session = AnonymousSession | SessionClaims


class LimitExceeded(ProtectionError):
    """``rate_limited``, remembering which limit refused (for the audit event).

    Carries Retry-After and the IETF RateLimit-Policy / RateLimit fields
    (draft-ietf-httpapi-ratelimit-headers) for the refusing policy, named
    after ``reason``.
    """

    def __init__(self, reason: str, *, limit: int, window: int, retry_after: float) -> None:
        wait = max(1, math.ceil(retry_after))
        super().__init__(
            "rate_limited",
            headers={
                "Retry-After": str(wait),
                "RateLimit-Policy": f'"{reason}";q={limit};w={window}',
                "RateLimit": f'"{reason}";r=0;t={wait}',
            },
        )
        self.reason = reason


def identifier_digest(identifier: str) -> str:
    """Keyed digest of a normalised email or phone: what counters and events see."""
    return keyed_digest(identifier, purpose="signup-identifier")


def _session_quota(
    *, group: str, session: Session, limit: int, now: datetime.datetime | None
) -> tuple[Quota, float]:
    """The quota counter of ``group`` for ``session`` and the session's remaining seconds."""
    now = now or timezone.now()
    remaining = max(1.0, (session.expires_at - now).total_seconds())
    key = "gh:quota:" + keyed_digest(f"{group}\x00{session.id}", purpose="ratelimit")
    return Quota(key, limit, int(remaining) + 60), remaining


def _session_quota_exceeded(group: str, limit: int, remaining: float) -> LimitExceeded:
    # The session is spent; a new session (new proof of work) is the way on.
    return LimitExceeded(
        f"{group}_per_session",
        limit=limit,
        window=int(gatehouse_settings.SESSION_LIFETIME),
        retry_after=remaining,
    )


def session_quota_take(
    *, group: str, session: Session, limit: int, now: datetime.datetime | None = None
) -> None:
    """Count one use of ``group`` by ``session``; raise ``LimitExceeded`` past ``limit``."""
    quota, remaining = _session_quota(group=group, session=session, limit=limit, now=now)
    if not rate_limit_hit_many([quota])[0].allowed:
        raise _session_quota_exceeded(group, limit, remaining)


def _refuse(reason: str, rate: str, result: RateLimitResult) -> LimitExceeded:
    limit, window = rate_parse(rate)
    return LimitExceeded(reason, limit=limit, window=window, retry_after=result.reset_after)


def lookup_limits_enforce(
    *,
    identifier: str,
    api_key: ApiKey,
    session: Session,
    client_ip: str,
    limits: RequestLimits | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Count one lookup of ``identifier`` (normalised); raise ``LimitExceeded`` if over.

    Reasons, checked in this order (a refusal stops the later counts):
    ``lookup_per_session``, ``lookup_per_identifier`` and, for sweeps,
    ``lookup_distinct_per_ip`` / ``lookup_distinct_per_key``. All four are
    counted in one call (one Redis round trip), after the request's own
    ``limits`` (its per-IP, per-key and per-session limits and the state it
    reads, which the edge left pending; ``rate_limited`` from those first).
    """
    settings = signup_settings
    digest = identifier_digest(identifier)
    per_session = int(settings.SIGNUP_LOOKUPS_PER_SESSION)
    quota, remaining = _session_quota(group="lookup", session=session, limit=per_session, now=now)
    windowed = [
        (
            "lookup_per_identifier",
            Hit("signup.lookup.identifier", digest, settings.SIGNUP_LOOKUP_IDENTIFIER_RATE),
        ),
        (
            "lookup_distinct_per_ip",
            Hit(
                "signup.lookup.ip",
                rate_limit_ident(client_ip),
                settings.SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE,
                member=digest,
            ),
        ),
        (
            "lookup_distinct_per_key",
            Hit(
                "signup.lookup.key",
                api_key.public_id,
                settings.SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE,
                member=digest,
            ),
        ),
    ]
    results = request_limits_count(limits, [quota, *(hit for _r, hit in windowed)])
    if not results[0].allowed:
        raise _session_quota_exceeded("lookup", per_session, remaining)
    for (reason, hit), result in zip(windowed, results[1:], strict=False):
        if not result.allowed:
            raise _refuse(reason, hit.rate, result)


def create_limits_enforce(
    *, session: Session, client_ip: str, now: datetime.datetime | None = None
) -> None:
    """Count one create attempt; raise ``LimitExceeded`` if over.

    Reasons: ``create_per_session``, ``create_per_ip``. Attempts count, not only
    successes: a 409 answers "this address exists", so creates are lookups too.
    """
    settings = signup_settings
    per_session = int(settings.SIGNUP_CREATES_PER_SESSION)
    quota, remaining = _session_quota(group="create", session=session, limit=per_session, now=now)
    per_ip = Hit("signup.create.ip", rate_limit_ident(client_ip), settings.SIGNUP_CREATE_IP_RATE)
    results = rate_limit_hit_many([quota, per_ip], stop_at_refusal=True)
    if not results[0].allowed:
        raise _session_quota_exceeded("create", per_session, remaining)
    if not results[1].allowed:
        raise _refuse("create_per_ip", per_ip.rate, results[1])
