"""Reading a session's tokens on the hot path: offline, then its live state.

- ``session_token_verify``: what an access token says (``SessionClaims``),
  offline: signature, expiry, key. The gate then learns the session's
  revocation state in the request's one cache round trip
  (``session_state_check`` with what ``revocation`` read), falling back to
  the database whenever the cache cannot be trusted;
- ``session_authenticate``: the same in one call for direct callers: the
  claims, then the session row (one primary-key read);
- ``session_live``: a refresh (or access) token and its active session row,
  for the refresh service.

Every refusal is a ``token_auth`` event whose reason is the error code (what
the automatic-blocking rules count); a token itself is never stored.
"""

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from protection.base.exceptions import ProtectionError
from protection.core.events import refuse
from protection.core.metrics import metrics_timer
from protection.keys import ApiKey
from protection.sessions.models import AnonymousSession
from protection.sessions.revocation import (
    REVOKED,
    UNKNOWN,
    session_active_in_db,
    session_state_judge,
)
from protection.sessions.selectors import session_row
from protection.sessions.tokens import (
    API_KEY_CLAIM,
    SESSION_CLAIM,
    SessionAccessToken,
    SessionToken,
    token_decode,
    token_jkt,
)

DEVICE_CLAIM = "dev"
DEVICE_VERIFIED_CLAIM = "dvv"  # present (true) when an attestation vouched for "dev"
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
    device_verified: bool = False  # an attestation vouched for device_id

    @property
    def pk(self) -> uuid.UUID:
        return self.id


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


def session_live(
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


def _token_refused(exc: ProtectionError, *, api_key: ApiKey, token_type: str | None) -> None:
    refuse(exc, kind="token_auth", api_key=api_key, details={"token_type": token_type})


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
        device_verified = token.get(DEVICE_VERIFIED_CLAIM) is True
        jkt = token_jkt(token)
        if expiry is None or device_id is None:
            # A token without them (minted elsewhere with the signing key):
            # the row has what the hot path needs.
            session = _session_for_token(token, api_key)
            expiry, device_id = int(session.expires_at.timestamp()), session.device_id
            device_verified = session.device_verified
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
        device_verified=device_verified,
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
    _, session = session_live(
        SessionAccessToken, raw_token, api_key=api_key, now=now or timezone.now()
    )
    return session
