"""Anonymous sessions: who is calling (the *who*), once the *what* checks pass.

Owns ``AnonymousSession`` and its services: issue a session with its access
and refresh tokens, and authenticate an access token against its session.
"""

import datetime
import uuid
from dataclasses import dataclass

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone

from protection.conf import gatehouse_settings
from protection.exceptions import ProtectionError
from protection.keys import ApiKey
from protection.tokens import (
    API_KEY_CLAIM,
    SESSION_CLAIM,
    SessionAccessToken,
    SessionRefreshToken,
    token_create,
    token_decode,
)


class AnonymousSession(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="sessions")
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    user_agent = models.CharField(max_length=256, blank=True)
    device_id = models.CharField(max_length=128, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    expires_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=64, blank=True)
    # Refresh-token family: only the refresh token with this jti is alive.
    refresh_jti = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return str(self.id)

    def is_active(self, now: datetime.datetime | None = None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and self.expires_at > now


@dataclass(frozen=True)
class IssuedSession:
    session: AnonymousSession
    access: str
    refresh: str
    expires_in: int
    token_type: str = "Bearer"


def _token_pair(
    session: AnonymousSession, now: datetime.datetime
) -> tuple[SessionAccessToken, SessionRefreshToken]:
    remaining = session.expires_at - now
    access_lifetime = min(
        datetime.timedelta(seconds=gatehouse_settings.ACCESS_TOKEN_LIFETIME), remaining
    )
    refresh_lifetime = min(
        datetime.timedelta(seconds=gatehouse_settings.REFRESH_TOKEN_LIFETIME), remaining
    )
    claims = {"session_id": str(session.id), "api_key_public_id": session.api_key.public_id}
    access = token_create(SessionAccessToken, lifetime=access_lifetime, now=now, **claims)
    refresh = token_create(SessionRefreshToken, lifetime=refresh_lifetime, now=now, **claims)
    return access, refresh  # type: ignore[return-value]


def session_issue(
    *,
    api_key: ApiKey,
    client_ip: str | None,
    user_agent: str = "",
    device_id: str = "",
    now: datetime.datetime | None = None,
) -> IssuedSession:
    """Create a session for ``api_key`` and return it with a fresh token pair."""
    now = now or timezone.now()
    session = AnonymousSession(
        api_key=api_key,
        client_ip=client_ip,
        user_agent=user_agent[:256],
        device_id=device_id[:128],
        created_at=now,
        expires_at=now + datetime.timedelta(seconds=gatehouse_settings.SESSION_LIFETIME),
    )
    access, refresh = _token_pair(session, now)
    session.refresh_jti = refresh["jti"]
    session.save()
    return IssuedSession(
        session=session,
        access=str(access),
        refresh=str(refresh),
        expires_in=int(access["exp"] - now.timestamp()),
    )


def session_authenticate(
    *, raw_token: str, api_key: ApiKey, now: datetime.datetime | None = None
) -> AnonymousSession:
    """Return the active session behind an access token issued under ``api_key``."""
    token = token_decode(SessionAccessToken, raw_token)
    if token[API_KEY_CLAIM] != api_key.public_id:
        raise ProtectionError("token_invalid")
    try:
        session = AnonymousSession.objects.select_related("api_key").get(
            id=token[SESSION_CLAIM], api_key=api_key
        )
    except (AnonymousSession.DoesNotExist, DjangoValidationError, ValueError) as exc:
        raise ProtectionError("token_invalid") from exc
    now = now or timezone.now()
    if session.revoked_at is not None:
        raise ProtectionError("session_revoked")
    if session.expires_at <= now:
        raise ProtectionError("session_expired")
    return session


def sessions_purge_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete sessions past their absolute lifetime; return how many."""
    now = now or timezone.now()
    deleted, _ = AnonymousSession.objects.filter(expires_at__lte=now).delete()
    return deleted
