"""Business limits of the sign-up API: what makes sweeping and mass sign-up impractical.

Lookups: per session (a quota for the session's life), per looked-up
identifier from anywhere, and distinct identifiers per client IP and per API
key (crossing those is ``enumeration_suspected``). Creates: per session and
per client IP. Windowed limits go through ``protection.ratelimit`` (atomic
counters in the shared cache); the per-session quotas are exact counters that
live as long as the session, since a fixed window could straddle a session
and grant it twice the quota.

The checks never depend on whether a person exists, so refusals reveal
nothing. Identifiers reach counters and events only as keyed digests.
"""

import datetime
import math
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.utils import timezone
from django_ratelimit.core import _split_rate
from redis.exceptions import RedisError

from protection.clientip import rate_limit_ident
from protection.conf import gatehouse_settings
from protection.crypto import keyed_digest
from protection.exceptions import ProtectionError
from protection.keys import ApiKey
from protection.ratelimit import RateLimitResult, rate_limit_distinct_hit, rate_limit_hit
from protection.sessions import AnonymousSession


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


@contextmanager
def _cache_available() -> Iterator[None]:
    """A dead cache refuses the request (503) rather than letting it through unlimited."""
    try:
        yield
    except (RedisError, OSError) as exc:
        raise ProtectionError("service_unavailable") from exc


def identifier_digest(identifier: str) -> str:
    """Keyed digest of a normalised email or phone: what counters and events see."""
    return keyed_digest(identifier, purpose="signup-identifier")


def session_quota_take(
    *, group: str, session: AnonymousSession, limit: int, now: datetime.datetime | None = None
) -> None:
    """Count one use of ``group`` by ``session``; raise ``LimitExceeded`` past ``limit``."""
    now = now or timezone.now()
    remaining = max(1.0, (session.expires_at - now).total_seconds())
    key = "gh:quota:" + keyed_digest(f"{group}\x00{session.id}", purpose="ratelimit")
    with _cache_available():
        cache.add(key, 0, timeout=int(remaining) + 60)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.add(key, 1, timeout=int(remaining) + 60)
            count = 1
    if count > limit:
        # The session is spent; a new session (new proof of work) is the way on.
        raise LimitExceeded(
            f"{group}_per_session",
            limit=limit,
            window=int(gatehouse_settings.SESSION_LIFETIME),
            retry_after=remaining,
        )


def _refuse(reason: str, rate: str, result: RateLimitResult) -> LimitExceeded:
    limit, window = _split_rate(rate)
    return LimitExceeded(reason, limit=limit, window=window, retry_after=result.reset_after)


def _windowed(*, group: str, ident: str, rate: str, reason: str) -> None:
    with _cache_available():
        result = rate_limit_hit(group=group, ident=ident, rate=rate)
    if not result.allowed:
        raise _refuse(reason, rate, result)


def _distinct(*, group: str, ident: str, member: str, rate: str, reason: str) -> None:
    with _cache_available():
        result = rate_limit_distinct_hit(group=group, ident=ident, member=member, rate=rate)
    if not result.allowed:
        raise _refuse(reason, rate, result)


def lookup_limits_enforce(
    *,
    identifier: str,
    api_key: ApiKey,
    session: AnonymousSession,
    client_ip: str,
    now: datetime.datetime | None = None,
) -> None:
    """Count one lookup of ``identifier`` (normalised); raise ``LimitExceeded`` if over.

    Reasons: ``lookup_per_session``, ``lookup_per_identifier`` and, for sweeps,
    ``lookup_distinct_per_ip`` / ``lookup_distinct_per_key``.
    """
    settings = gatehouse_settings
    digest = identifier_digest(identifier)
    session_quota_take(
        group="lookup", session=session, limit=int(settings.SIGNUP_LOOKUPS_PER_SESSION), now=now
    )
    _windowed(
        group="signup.lookup.identifier",
        ident=digest,
        rate=settings.SIGNUP_LOOKUP_IDENTIFIER_RATE,
        reason="lookup_per_identifier",
    )
    _distinct(
        group="signup.lookup.ip",
        ident=rate_limit_ident(client_ip),
        member=digest,
        rate=settings.SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE,
        reason="lookup_distinct_per_ip",
    )
    _distinct(
        group="signup.lookup.key",
        ident=api_key.public_id,
        member=digest,
        rate=settings.SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE,
        reason="lookup_distinct_per_key",
    )


def create_limits_enforce(
    *, session: AnonymousSession, client_ip: str, now: datetime.datetime | None = None
) -> None:
    """Count one create attempt; raise ``LimitExceeded`` if over.

    Reasons: ``create_per_session``, ``create_per_ip``. Attempts count, not only
    successes: a 409 answers "this address exists", so creates are lookups too.
    """
    settings = gatehouse_settings
    session_quota_take(
        group="create", session=session, limit=int(settings.SIGNUP_CREATES_PER_SESSION), now=now
    )
    _windowed(
        group="signup.create.ip",
        ident=rate_limit_ident(client_ip),
        rate=settings.SIGNUP_CREATE_IP_RATE,
        reason="create_per_ip",
    )
