"""Services of anonymous sessions (each state change writes its security event):

- ``session_create``: check the evidence the API key requires, then issue;
- ``session_issue``: create a session with its access and refresh tokens;
- ``session_token_verify``: what an access token says (``SessionClaims``),
  offline: signature, expiry, key; the edge then learns the session's
  revocation state in the request's one cache round trip
  (``session_state_check`` with what ``revocation`` read), falling back to
  the database whenever the cache cannot be trusted;
- ``session_authenticate``: the same in one call for direct callers: the
  claims, then the session row (one primary-key read);
- ``session_refresh``: rotate the refresh token (compare-and-swap on
  ``refresh_jti``: exactly one concurrent refresh wins; a dead refresh token
  presented again revokes the whole session);
- ``session_revoke`` and ``sessions_purge_expired``.
"""

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from protection.attestation import attestation_verify
from protection.base.exceptions import ProtectionError
from protection.blocks import blocks_check
from protection.challenges import challenge_verify
from protection.conf import gatehouse_settings
from protection.core.events import event_record
from protection.core.metrics import metrics_timer
from protection.dpop import dpop_refresh_verify, dpop_session_start
from protection.keys import ApiKey
from protection.sessions.models import AnonymousSession
from protection.sessions.revocation import (
    REVOKED,
    UNKNOWN,
    session_active_in_db,
    session_revocation_publish,
    session_state_judge,
)
from protection.sessions.selectors import session_row
from protection.sessions.tokens import (
    API_KEY_CLAIM,
    SESSION_CLAIM,
    SessionAccessToken,
    SessionRefreshToken,
    SessionToken,
    token_create,
    token_decode,
    token_jkt,
)


@dataclass(frozen=True)
class DpopRequest:
    """What a DPoP check needs of an HTTP request: the proof, method and path."""

    proof: str | None
    method: str
    path: str


DEVICE_CLAIM = "dev"
SESSION_EXPIRY_CLAIM = "sxp"


@dataclass(frozen=True)
class SessionClaims:
    """The session an access token names, as signed into it: no database read.

    Has what the hot path needs of a session: its id, key, device and end.
    """

    id: uuid.UUID
    api_key: ApiKey
    device_id: str
    expires_at: datetime.datetime
    client_ip: str | None = None
    jkt: str | None = None  # the DPoP key the tokens are bound to (cnf.jkt)

    @property
    def pk(self) -> uuid.UUID:
        return self.id


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
    claims = {
        "session_id": str(session.id),
        "api_key_public_id": session.api_key.public_id,
        "jkt": jkt,  # DPoP: both tokens bound to the client's key (RFC 9449)
    }
    access = token_create(SessionAccessToken, lifetime=access_lifetime, now=now, **claims)
    refresh = token_create(SessionRefreshToken, lifetime=refresh_lifetime, now=now, **claims)
    # What the hot path needs without reading the row: the device (device
    # blocks) and the session's end (quotas live as long as the session).
    access[DEVICE_CLAIM] = session.device_id or ""
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
    jkt: str | None = None,
    now: datetime.datetime | None = None,
) -> IssuedSession:
    """Create a session for ``api_key`` and return it with a fresh token pair.

    ``jkt`` (a DPoP key thumbprint) binds both tokens to that key.

    Does not check evidence: callers that face clients use ``session_create``.
    """
    now = now or timezone.now()
    session = AnonymousSession(
        api_key=api_key,
        client_ip=client_ip,
        # Printable text only: a client's header must not break the row (NUL) or the admin.
        user_agent="".join(c for c in (user_agent or "") if c.isprintable())[:256],
        device_id=(device_id or "")[:128],
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


def session_create(
    *,
    api_key: ApiKey,
    client_ip: str | None,
    altcha_payload: str = "",
    recaptcha_token: str = "",
    user_agent: str = "",
    device_id: str = "",
    evidence: Mapping[str, str] | None = None,
    dpop: DpopRequest | None = None,
    now: datetime.datetime | None = None,
) -> IssuedSession:
    """Verify the evidence ``api_key`` requires, then issue a session.

    ``evidence`` is the request's headers: app attestation (Approov, App
    Check, App Attest) is checked before the proof of work, so a refused
    attestation spends no challenge; a device id it verified becomes the
    session's. A blocked device gets no new session (checked before the
    evidence, which would spend a challenge).
    """
    now = now or timezone.now()
    if device_id:
        blocks_check(device_id=device_id)
    jkt = None
    if dpop is not None:  # RFC 9449: the proof names the key the tokens are bound to
        jkt = dpop_session_start(
            proof=dpop.proof,
            method=dpop.method,
            url=dpop.path,
            required="dpop" in (api_key.required_verifications or ()),
            client_ip=client_ip,
            api_key=api_key,
        )
    elif "dpop" in (api_key.required_verifications or ()):
        raise ProtectionError("dpop_required")
    attested = attestation_verify(
        api_key=api_key, evidence=evidence or {}, purpose="session", client_ip=client_ip, now=now
    )
    if attested.device_id:
        device_id = attested.device_id[:128]
        blocks_check(device_id=device_id)
    challenge_verify(
        api_key=api_key,
        client_ip=client_ip,
        altcha_payload=altcha_payload,
        recaptcha_token=recaptcha_token,
        now=now,
    )
    return session_issue(
        api_key=api_key,
        client_ip=client_ip,
        user_agent=user_agent,
        device_id=device_id,
        jkt=jkt,
        now=now,
    )


def _token_session_id(token: Any, api_key: ApiKey) -> uuid.UUID:
    # A token of another key is refused before any query.
    if token[API_KEY_CLAIM] != api_key.public_id:
        raise ProtectionError("token_invalid")
    try:
        return uuid.UUID(token[SESSION_CLAIM])
    except ValueError as exc:
        raise ProtectionError("token_invalid") from exc


def _session_for_token(token: Any, api_key: ApiKey) -> AnonymousSession:
    session = session_row(session_id=_token_session_id(token, api_key), api_key=api_key)
    if session is None:
        raise ProtectionError("token_invalid")
    return session


def _require_active(session: AnonymousSession, now: datetime.datetime) -> None:
    if session.revoked_at is not None:
        raise ProtectionError("session_revoked")
    if session.expires_at <= now:
        raise ProtectionError("session_expired")


def _live_session(
    token_class: type[SessionToken],
    raw_token: str,
    *,
    api_key: ApiKey,
    now: datetime.datetime,
) -> tuple[Any, AnonymousSession]:
    """Decode ``raw_token`` and return it with its active session, or record why not.

    Every refusal is a ``token_auth`` deny event with the error code as reason
    (what the automatic-blocking rules count); the token itself is never stored.
    """
    try:
        if not raw_token:
            raise ProtectionError("token_missing")
        token = token_decode(token_class, raw_token)
        session = _session_for_token(token, api_key)
        _require_active(session, now)
    except ProtectionError as exc:
        _token_refused(exc, api_key=api_key, token_type=token_class.token_type)
        raise
    return token, session


def _token_refused(exc: ProtectionError, *, api_key: ApiKey, token_type: str) -> None:
    event_record(
        kind="token_auth",
        decision="deny",
        reason=exc.code,
        api_key=api_key,
        details={"token_type": token_type},
    )


def session_token_verify(
    *, raw_token: str, api_key: ApiKey, client_ip: str | None = None
) -> SessionClaims:
    """Return what a valid access token issued under ``api_key`` says: offline.

    Raises (and records) token_missing, token_invalid, token_expired. Says
    nothing of revocation: follow with ``session_state_check``.
    """
    with metrics_timer("session"):
        return _session_token_verify(raw_token=raw_token, api_key=api_key, client_ip=client_ip)


def _session_token_verify(
    *, raw_token: str, api_key: ApiKey, client_ip: str | None
) -> SessionClaims:
    try:
        if not raw_token:
            raise ProtectionError("token_missing")
        token = token_decode(SessionAccessToken, raw_token)
        session_id = _token_session_id(token, api_key)
        expiry, device_id = token.get(SESSION_EXPIRY_CLAIM), token.get(DEVICE_CLAIM)
        jkt = token_jkt(token)
        if expiry is None or device_id is None:
            # A token without them (minted elsewhere with the signing key):
            # the row has what the hot path needs.
            session = _session_for_token(token, api_key)
            expiry, device_id = int(session.expires_at.timestamp()), session.device_id
        if not isinstance(expiry, int) or not isinstance(device_id, str):
            raise ProtectionError("token_invalid")
    except ProtectionError as exc:
        _token_refused(exc, api_key=api_key, token_type="access")
        raise
    return SessionClaims(
        id=session_id,
        api_key=api_key,
        device_id=device_id,
        expires_at=datetime.datetime.fromtimestamp(expiry, tz=datetime.UTC),
        client_ip=client_ip,
        jkt=jkt,
    )


def session_state_check(
    *,
    claims: SessionClaims,
    values: dict[str, bytes | None] | None = None,
    now: datetime.datetime | None = None,
) -> None:
    """Raise (and record) ``session_revoked`` / ``session_expired`` unless the session is live.

    ``values`` is what the request read of ``revocation.session_state_reads``
    in its cache round trip; None (or a cache that cannot be trusted) means
    the database answers.
    """
    state = UNKNOWN if values is None else session_state_judge(claims.id, values)
    try:
        if state == REVOKED:
            raise ProtectionError("session_revoked")
        if state == UNKNOWN:
            session_active_in_db(session_id=claims.id, now=now)
    except ProtectionError as exc:
        _token_refused(exc, api_key=claims.api_key, token_type="access")
        raise


def session_authenticate(
    *,
    raw_token: str,
    api_key: ApiKey,
    now: datetime.datetime | None = None,
) -> AnonymousSession:
    """Return the active session behind an access token issued under ``api_key``.

    Reads the session row, so revocation takes effect at once.
    """
    _, session = _live_session(
        SessionAccessToken, raw_token, api_key=api_key, now=now or timezone.now()
    )
    return session


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
    token, session = _live_session(SessionRefreshToken, raw_refresh, api_key=api_key, now=now)
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
    event_record(
        kind="refresh_reuse",
        decision="deny",
        reason="refresh_reuse",
        api_key=api_key,
        session_id=session.id,
    )
    session_revoke(session=session, reason="refresh_reuse", now=now)
    raise ProtectionError(
        "session_revoked",
        "This refresh token was already used; the session has been revoked.",
    )


def sessions_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete sessions past their absolute lifetime; return how many."""
    now = now or timezone.now()
    deleted, _ = AnonymousSession.objects.filter(expires_at__lte=now).delete()
    return deleted
