"""Anonymous sessions: who is calling (the *who*), once the *what* checks pass.

``models`` holds ``AnonymousSession``; ``services`` issues, authenticates,
refreshes and revokes sessions and their tokens.
"""

from protection.sessions.models import AnonymousSession
from protection.sessions.services import (
    IssuedSession,
    session_authenticate,
    session_create,
    session_issue,
    session_refresh,
    session_revoke,
    sessions_purge_expired,
)

__all__ = [
    "AnonymousSession",
    "IssuedSession",
    "session_authenticate",
    "session_create",
    "session_issue",
    "session_refresh",
    "session_revoke",
    "sessions_purge_expired",
]
