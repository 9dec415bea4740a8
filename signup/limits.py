"""Business limits of the sign-up API, as the gate's plans: what to count, what it means.

Lookups: per session (a quota for the session's life), distinct identifiers
per client IP, per looked-up identifier from anywhere, and distinct
identifiers per API key (crossing a "distinct" one is
``enumeration_suspected``). The last two are shared by clients who do not
control each other: by default they only observe
(``SIGNUP_SHARED_LIMITS_OBSERVE``). Creates: per session and
per client IP. The gate counts them in the request's one round trip, after
the group limits and after the body was validated (so a bad body spends
none of them, and the counters see the normalised identifier):
``lookup_hits``/``create_hits`` say what to count and ``lookup_judge``/
``create_judge`` what the results mean; all four are pure functions.

Windowed limits are ``protection.core.ratelimit`` hits; the per-session
quotas are exact counters that live as long as the session, since a fixed
window could straddle a session and grant it twice the quota. The checks
never depend on whether a person exists, so refusals reveal nothing.
Identifiers reach counters and events only as keyed digests.

Identity velocity: ``lookup_identities`` / ``create_identities`` name who a
body is about for the ``rate_limits`` identity dimensions of the two groups
(``mailbox``: the canonical mailbox, ``email_domain``, ``phone_prefix``); the
gate counts them, on success only. The canonical mailbox is computed here,
for counting: it is never stored nor used for uniqueness.
"""

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from protection.base.clientip import rate_limit_ident
from protection.base.crypto import keyed_digest
from protection.base.exceptions import ProtectionError
from protection.conf import gatehouse_settings
from protection.core.events import Refusal
from protection.core.keyspace import owned_key
from protection.core.ratelimit import Hit, Item, Quota, RateLimitResult, rate_parse
from protection.policyfile import PolicyProblem
from protection.sessions import AnonymousSession, SessionClaims
from signup.conf import signup_settings
from signup.normalization import email_canonical_mailbox, email_domain, phone_prefix

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


@dataclass(frozen=True)
class LookupInput:
    """A validated lookup: which kind of identifier, normalised."""

    kind: str  # "email" or "phone"
    identifier: str


@dataclass(frozen=True)
class Asker:
    """Who asks, as far as the limits need to know: the key, the session, the client."""

    api_key_public_id: str
    session: Session
    client_ip: str


def identifier_digest(identifier: str) -> str:
    """Keyed digest of a normalised email or phone: what counters and events see."""
    return keyed_digest(identifier, purpose="signup-identifier")


def identity_digest(value: str) -> str:
    """Keyed digest of an identity (canonical mailbox, domain, phone prefix)."""
    return keyed_digest(value, purpose="signup-identity")


def _identities(email: str | None, phone: str | None) -> dict[str, str]:
    idents = {}
    if email:
        idents["mailbox"] = identity_digest(email_canonical_mailbox(email))
        idents["email_domain"] = identity_digest(email_domain(email).lower())
    if phone:
        idents["phone_prefix"] = identity_digest(phone_prefix(phone))
    return idents


def lookup_identities(body: LookupInput) -> dict[str, str]:
    """The identity dimensions a lookup names: of its email, the canonical
    mailbox and the domain; of its phone, the prefix (keyed digests)."""
    if body.kind == "email":
        return _identities(body.identifier, None)
    return _identities(None, body.identifier)


def create_identities(email: str, phone: str | None, *, replay: bool = False) -> dict[str, str]:
    """The identity dimensions a create names (its email's canonical mailbox and
    domain, its phone's prefix); none for the replay of a stored answer, which
    already counted."""
    return {} if replay else _identities(email, phone)


def _session_quota(
    *,
    group: str,
    session: Session,
    limit: int,
    now: datetime.datetime | None,
    member: str | None = None,
) -> tuple[Quota, float]:
    """The quota counter of ``group`` for ``session`` and the session's remaining seconds."""
    now = now or timezone.now()
    remaining = max(1.0, (session.expires_at - now).total_seconds())
    key = owned_key(
        "gh:quota:" + keyed_digest(f"{group}\x00{session.id}", purpose="ratelimit"),
        owner=str(session.id),
    )
    return Quota(key, limit, int(remaining) + 60, member), remaining


def _session_quota_exceeded(group: str, limit: int, remaining: float) -> LimitExceeded:
    # The session is spent; a new session (new proof of work) is the way on.
    return LimitExceeded(
        f"{group}_per_session",
        limit=limit,
        window=int(gatehouse_settings.SESSION_LIFETIME),
        retry_after=remaining,
    )


def limit_exceeded(reason: str, rate: str, result: RateLimitResult) -> LimitExceeded:
    """The 429 of a windowed limit ``rate`` that ``result`` refused, named ``reason``."""
    limit, window = rate_parse(rate)
    return LimitExceeded(reason, limit=limit, window=window, retry_after=result.reset_after)


# Lookup limits, in the order they are checked (a refusal stops the later
# counts): the client's own first (its session, its address), then those
# shared with everyone (one identifier, the whole key), so a request refused
# for its own fault spends nothing shared.
LOOKUP_REASONS = (
    "lookup_per_session",
    "lookup_distinct_per_ip",
    "lookup_per_identifier",
    "lookup_distinct_per_key",
)
SWEEP_REASONS = frozenset({"lookup_distinct_per_ip", "lookup_distinct_per_key"})
SHARED_REASONS = frozenset({"lookup_per_identifier", "lookup_distinct_per_key"})


def shared_limits_observe_policy_problems(value: Any, *, base: Any) -> list[PolicyProblem]:
    """``signup_shared_limits_observe`` of a policy file: a list of shared lookup limits."""
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        return [PolicyProblem((), "expected a list of lookup limit reasons")]
    return [
        PolicyProblem((), f"{item!r} is not one of {', '.join(sorted(SHARED_REASONS))}")
        for item in value
        if item not in SHARED_REASONS
    ]


def lookup_hits(
    body: LookupInput, asker: Asker, *, now: datetime.datetime | None = None
) -> list[Item]:
    """The four lookup counters of ``body`` for ``asker``, in ``LOOKUP_REASONS`` order."""
    settings = signup_settings
    digest = identifier_digest(body.identifier)
    quota, _remaining = _session_quota(
        group="lookup",
        session=asker.session,
        limit=int(settings.SIGNUP_LOOKUPS_PER_SESSION),
        now=now,
    )
    return [
        quota,
        Hit(
            "signup.lookup.ip",
            rate_limit_ident(asker.client_ip),
            settings.SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE,
            member=digest,
        ),
        Hit("signup.lookup.identifier", digest, settings.SIGNUP_LOOKUP_IDENTIFIER_RATE),
        Hit(
            "signup.lookup.key",
            asker.api_key_public_id,
            settings.SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE,
            member=digest,
        ),
    ]


def lookup_judge(
    body: LookupInput,
    asker: Asker,
    results: Sequence[RateLimitResult],
    *,
    now: datetime.datetime | None = None,
) -> Refusal | None:
    """The first lookup limit ``results`` refuse, as a refusal to record, or None."""
    for reason, result in zip(LOOKUP_REASONS, results, strict=False):
        if result.allowed:
            continue
        if reason == "lookup_per_session":
            _quota, remaining = _session_quota(
                group="lookup", session=asker.session, limit=result.limit, now=now
            )
            error: LimitExceeded = _session_quota_exceeded("lookup", result.limit, remaining)
        else:
            rate = {
                "lookup_per_identifier": signup_settings.SIGNUP_LOOKUP_IDENTIFIER_RATE,
                "lookup_distinct_per_ip": signup_settings.SIGNUP_LOOKUP_DISTINCT_PER_IP_RATE,
                "lookup_distinct_per_key": signup_settings.SIGNUP_LOOKUP_DISTINCT_PER_KEY_RATE,
            }[reason]
            error = limit_exceeded(reason, rate, result)
        return Refusal(
            error,
            kind="enumeration_suspected" if reason in SWEEP_REASONS else "rate_limited",
            reason=reason,
            details={
                "identifier_kind": body.kind,
                "identifier_digest": identifier_digest(body.identifier),
            },
            observe=reason in (signup_settings.SIGNUP_SHARED_LIMITS_OBSERVE or ()),
        )
    return None


CREATE_REASONS = ("create_per_session", "create_per_ip")


def create_hits(
    email: str,
    asker: Asker,
    *,
    idempotency_key: str | None = None,
    replay: bool = False,
    now: datetime.datetime | None = None,
) -> list[Item]:
    """The create counters: per session, per client IP.

    Attempts count, not only successes: a 409 answers "this address exists",
    so creates are lookups too. A replay of an Idempotency-Key's stored
    answer counts nothing, and retries of one Idempotency-Key count once
    (also while the first is still running): they already paid.
    """
    if replay:
        return []
    settings = signup_settings
    quota, _remaining = _session_quota(
        group="create",
        session=asker.session,
        limit=int(settings.SIGNUP_CREATES_PER_SESSION),
        now=now,
        member=idempotency_key,
    )
    per_ip = Hit(
        "signup.create.ip",
        rate_limit_ident(asker.client_ip),
        settings.SIGNUP_CREATE_IP_RATE,
        member=idempotency_key,
    )
    return [quota, per_ip]


def create_judge(
    email: str,
    asker: Asker,
    results: Sequence[RateLimitResult],
    *,
    now: datetime.datetime | None = None,
) -> Refusal | None:
    """The first create limit ``results`` refuse, as a refusal to record, or None."""
    for reason, result in zip(CREATE_REASONS, results, strict=False):
        if result.allowed:
            continue
        if reason == "create_per_session":
            _quota, remaining = _session_quota(
                group="create", session=asker.session, limit=result.limit, now=now
            )
            error: LimitExceeded = _session_quota_exceeded("create", result.limit, remaining)
        else:
            error = limit_exceeded(reason, signup_settings.SIGNUP_CREATE_IP_RATE, result)
        return Refusal(
            error,
            kind="rate_limited",
            reason=reason,
            details={"email_digest": identifier_digest(email)},
        )
    return None
