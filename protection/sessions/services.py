"""Services of anonymous sessions (each state change writes its security event):

- ``session_issue``: create a session with its access and refresh tokens
  (the gate has checked the evidence the key and the verdict ask for);
- ``session_refresh``: rotate the refresh token (compare-and-swap on
  ``refresh_jti``: exactly one concurrent refresh wins; a dead refresh token
  presented again revokes the whole session);
- ``session_revoke`` and ``sessions_purge_expired``.

Reading tokens on the hot path is ``protection.sessions.verify``.
"""

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from protection.conf import gatehouse_settings
from protection.core.events import event_record, refuse
from protection.dpop import dpop_refresh_verify
from protection.keys import ApiKey
from protection.sessions.models import AnonymousSession
from protection.sessions.revocation import session_revocation_publish
from protection.sessions.tokens import (
    SessionAccessToken,
    SessionRefreshToken,
    token_create,
    token_jkt,
)
from protection.sessions.verify import (
    DEVICE_CLAIM,
    DEVICE_VERIFIED_CLAIM,
    SESSION_EXPIRY_CLAIM,
    SessionClaims,
    session_live,
)


@dataclass(frozen=True)
class DpopRequest:
    """What a DPoP check needs of an HTTP request: the proof, method and path."""

    proof: str | None
    method: str
    path: str


@dataclass(frozen=True)
class IssuedSession:
    session: AnonymousSession
    access: str
    refresh: str
    expires_in: int
    token_type: str = "Bearer"


def _token_pair(
    session: AnonymousSession, now: datetime.datetime, jkt: str | None = None
) -> tuple[SessionAccessToken, SessionRefreshToken]:
    # No token outlives its session's absolute lifetime.
    remaining = session.expires_at - now
    access_lifetime = min(
        datetime.timedelta(seconds=gatehouse_settings.ACCESS_TOKEN_LIFETIME), remaining
    )
    refresh_lifetime = min(
        datetime.timedelta(seconds=gatehouse_settings.REFRESH_TOKEN_LIFETIME), remaining
    )
    claims: dict[str, Any] = {
        "session_id": str(session.id),
        "api_key_public_id": session.api_key.public_id,
        "jkt": jkt,  # DPoP: both tokens bound to the client's key (RFC 9449)
    }
    access = token_create(SessionAccessToken, lifetime=access_lifetime, now=now, **claims)
    refresh = token_create(SessionRefreshToken, lifetime=refresh_lifetime, now=now, **claims)
    # What the hot path needs without reading the row: the device (device
    # blocks) and the session's end (quotas live as long as the session).
    access[DEVICE_CLAIM] = session.device_id or ""
    if session.device_verified:
        access[DEVICE_VERIFIED_CLAIM] = True
    access[SESSION_EXPIRY_CLAIM] = int(session.expires_at.timestamp())
    return access, refresh  # type: ignore[return-value]


def _issued(
    session: AnonymousSession,
    access: SessionAccessToken,
    refresh: SessionRefreshToken,
    now: datetime.datetime,
) -> IssuedSession:
    return IssuedSession(
        session=session,
        access=str(access),
        refresh=str(refresh),
        expires_in=int(access["exp"] - int(now.timestamp())),
        token_type="DPoP" if token_jkt(access) else "Bearer",
    )


def session_issue(
    *,
    api_key: ApiKey,
    client_ip: str | None,
    user_agent: str = "",
    device_id: str = "",
    device_verified: bool = False,
    jkt: str | None = None,
    start_signals: Mapping[str, Any] | None = None,
    now: datetime.datetime | None = None,
) -> IssuedSession:
    """Create a session for ``api_key`` and return it with a fresh token pair.

    ``device_verified``: an attestation vouched for ``device_id`` (else the
    client only claimed it). ``jkt`` (a DPoP key thumbprint) binds both
    tokens to that key. ``start_signals``: what the session start showed
    (plain JSON, no personal data), stored on the session for what it later
    creates. Checks no evidence: the gate did, at its evidence step.
    """
    now = now or timezone.now()
    session = AnonymousSession(
        api_key=api_key,
        client_ip=client_ip,
        # Printable text only: a client's header must not break the row (NUL) or the admin.
        user_agent="".join(c for c in (user_agent or "") if c.isprintable())[:256],
        device_id=(device_id or "")[:128],
        start_signals=dict(start_signals or {}),
        device_verified=bool(device_id and device_verified),
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=gatehouse_settings.SESSION_LIFETIME),
    )
    access, refresh = _token_pair(session, now, jkt)
    session.refresh_jti = refresh["jti"]
    with transaction.atomic():
        session.save()
        event_record(
            kind="session_issued",
            decision="allow",
            reason="evidence_ok",
            client_ip=client_ip,
            api_key=api_key,
            session_id=session.id,
        )
    return _issued(session, access, refresh, now)


def session_revoke(
    *,
    session: AnonymousSession | SessionClaims,
    reason: str,
    now: datetime.datetime | None = None,
) -> bool:
    """Revoke ``session`` (idempotent); return whether this call revoked it.

    The database is the truth; the revocation mark goes to the shared cache
    (which every request reads) right after the row is updated, before the
    commit: a reader may refuse a moment early, never late.
    """
    now = now or timezone.now()
    reason = (reason or "revoked")[:64]
    with transaction.atomic():
        revoked = AnonymousSession.objects.filter(pk=session.pk, revoked_at__isnull=True).update(
            revoked_at=now, revoked_reason=reason
        )
        if revoked:
            event_record(
                kind="session_revoked",
                decision="allow",
                reason=reason,
                client_ip=session.client_ip,
                api_key=session.api_key,
                session_id=session.id,
            )
            session_revocation_publish(session_id=session.id, expires_at=session.expires_at)
    if revoked and isinstance(session, AnonymousSession):
        session.revoked_at, session.revoked_reason = now, reason
    return bool(revoked)


def session_refresh(
    *,
    raw_refresh: str,
    api_key: ApiKey,
    dpop: DpopRequest | None = None,
    now: datetime.datetime | None = None,
) -> IssuedSession:
    """Exchange a live refresh token for a new pair; the old refresh token dies.

    The swap is one ``UPDATE … WHERE id = … AND refresh_jti = <old>``: of two
    concurrent refreshes exactly one matches a row. Any other presentation of
    an old refresh token (a replay, or the loser of such a race, which looks
    the same) means the token was copied: the whole session is revoked and a
    ``refresh_reuse`` event recorded.
    """
    now = now or timezone.now()
    token, session = session_live(SessionRefreshToken, raw_refresh, api_key=api_key, now=now)
    # A bound session stays bound: the refresh needs a proof by the same key.
    jkt = dpop_refresh_verify(
        proof=dpop.proof if dpop else None,
        token_jkt=token_jkt(token),
        method=dpop.method if dpop else "POST",
        url=dpop.path if dpop else "",
        api_key=api_key,
        session_id=session.id,
    )
    access, refresh = _token_pair(session, now, jkt)
    with transaction.atomic():
        swapped = AnonymousSession.objects.filter(
            pk=session.pk, refresh_jti=token["jti"], revoked_at__isnull=True
        ).update(refresh_jti=refresh["jti"])
        if swapped:
            event_record(
                kind="session_refreshed",
                decision="allow",
                reason="rotated",
                api_key=api_key,
                session_id=session.id,
            )
    if swapped:
        session.refresh_jti = refresh["jti"]
        return _issued(session, access, refresh, now)
    error = refuse(
        "session_revoked",
        kind="refresh_reuse",
        reason="refresh_reuse",
        api_key=api_key,
        session_id=session.id,
        detail="This refresh token was already used; the session has been revoked.",
    )
    session_revoke(session=session, reason="refresh_reuse", now=now)
    raise error


def sessions_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete sessions past their absolute lifetime; return how many."""
    now = now or timezone.now()
    deleted, _ = AnonymousSession.objects.filter(expires_at__lte=now).delete()
    return deleted
